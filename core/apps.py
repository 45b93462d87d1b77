from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: the error catalogue, the audit log, request ids, the API framework.
    It imports no domain app (docs/architecture.md, "Where things live")."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
