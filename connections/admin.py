from django.contrib import admin, messages
from django.db.models import Count

from config.errors import CatalogError
from connections import services
from connections.audit import Actor
from connections.models import AuditEvent, Connection, Customer


def admin_actor(request) -> Actor:
    """Support staff act as themselves, from the admin, with the request's id for the audit trail."""
    return Actor.for_user(request.user, source=AuditEvent.Source.ADMIN, request_id=getattr(request, "request_id", ""))


def report(modeladmin, request, *, done: int, verb: str, errors: list[str]) -> None:
    """One summary message, plus one per catalogued error (code and what to do)."""
    if done:
        modeladmin.message_user(request, f"{verb}: {done}.", messages.SUCCESS)
    for error in errors[:10]:
        modeladmin.message_user(request, error, messages.ERROR)
    if len(errors) > 10:
        modeladmin.message_user(request, f"... and {len(errors) - 10} more errors.", messages.ERROR)


def error_text(subject, exc: CatalogError) -> str:
    hint = exc.spec.action
    return f"{subject}: {exc.code}: {exc.message}" + (f" ({hint})" if hint else "")


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
    actions = ["sync_now", "full_resync", "pause", "resume"]

    def has_trigger_sync_permission(self, request):
        return request.user.has_perm("connections.trigger_sync")

    def has_manage_connection_permission(self, request):
        return request.user.has_perm("connections.manage_connection")

    def _sync(self, request, queryset, mode: str, verb: str):
        from syncs.models import Trigger
        from syncs.services import sync_trigger

        actor, queued, errors = admin_actor(request), 0, []
        for connection in queryset.select_related("customer"):
            try:
                # The admin is a staff screen like the dashboard; the audit entry says "admin".
                results = sync_trigger(connection=connection, mode=mode, trigger=Trigger.DASHBOARD,
                                       requested_by=actor.name, request_id=actor.request_id, actor=actor)
                queued += sum(r.created for r in results)
            except CatalogError as exc:
                errors.append(error_text(connection, exc))
        report(self, request, done=queued, verb=verb, errors=errors)

    @admin.action(description="Sync now (incremental, all enabled entities)", permissions=["trigger_sync"])
    def sync_now(self, request, queryset):
        self._sync(request, queryset, "incremental", "Runs queued")

    @admin.action(description="Full re-sync (all enabled entities)", permissions=["trigger_sync"])
    def full_resync(self, request, queryset):
        self._sync(request, queryset, "full", "Full re-sync runs queued")

    @admin.action(description="Pause (stop scheduling, cancel queued runs)", permissions=["manage_connection"])
    def pause(self, request, queryset):
        self._change_status(request, queryset, services.connection_pause, verb="Paused")

    @admin.action(description="Resume", permissions=["manage_connection"])
    def resume(self, request, queryset):
        self._change_status(request, queryset, services.connection_resume, verb="Resumed")

    def _change_status(self, request, queryset, service, *, verb: str) -> None:
        actor, done, errors = admin_actor(request), 0, []
        for connection in queryset.select_related("customer"):
            try:
                was = connection.status
                done += service(connection=connection, actor=actor).status != was
            except CatalogError as exc:
                errors.append(error_text(connection, exc))
        report(self, request, done=done, verb=verb, errors=errors)

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
