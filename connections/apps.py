from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from connections import admin_keys  # noqa: F401  (registers the ApiKey admin)
