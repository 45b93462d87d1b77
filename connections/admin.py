from django.contrib import admin
from django.db.models import Count

from connections.models import AuditEvent, Connection, Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "connection_count", "created_at"]
    search_fields = ["name", "external_id"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_connections=Count("connections"))

    @admin.display(description="Connections", ordering="_connections")
    def connection_count(self, obj):
        return obj._connections


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "customer", "connector", "status", "token_prefix", "sync_interval_minutes", "created_at"]
    list_filter = ["status", "connector"]
    search_fields = ["name", "customer__name", "id", "token_prefix"]
    list_select_related = ["customer"]
    # Credentials are never shown or edited here in clear; only their key names are listed.
    exclude = ["credentials"]
    readonly_fields = ["id", "token_prefix", "credential_fields", "status_changed_at", "paused_at",
                       "disconnected_at", "created_at", "updated_at"]
    autocomplete_fields = ["customer"]

    @admin.display(description="Credentials")
    def credential_fields(self, obj):
        keys = sorted((obj.credentials or {}).keys())
        return ", ".join(f"{key}=••••••" for key in keys) or "(none)"


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "source", "action", "target_type", "target_id", "request_id"]
    list_filter = ["source", "action"]
    search_fields = ["actor", "action", "target_id", "request_id"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
