from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.utils import timezone

from connections.admin import ConnectionPermissions
from core.admin import ReadOnlyAdmin, error_text, report
from core.audit import admin_actor
from core.errors import CatalogError
from syncs import incidents, services
from syncs.models import Incident, Record, SeenPage, SyncRun, SyncState, WorkerHeartbeat


class _EngineDataAdmin(ReadOnlyAdmin):
    """Written by the engine and the services only: a form edit would skip their checks (state
    transitions, cursors, the change feed) and the audit log. Actions call the services."""


@admin.register(SyncState)
class SyncStateAdmin(_EngineDataAdmin):
    list_display = ["connection", "entity", "last_success_at", "next_due_at", "consecutive_failures",
                    "record_count", "last_error_code"]
    list_filter = ["entity", "last_error_code"]
    search_fields = ["connection__name", "connection__id"]
    list_select_related = ["connection__customer"]
    raw_id_fields = ["connection", "last_run"]


@admin.register(SyncRun)
class SyncRunAdmin(ConnectionPermissions, _EngineDataAdmin):
    list_display = ["id", "connection", "entity", "mode", "trigger", "status", "queued_at", "duration_display",
                    "pages", "fetched", "created", "updated", "deleted", "error_code"]
    list_filter = ["status", "mode", "trigger", "entity", "error_code"]
    search_fields = ["id", "connection__name", "request_id", "requested_by"]
    list_select_related = ["connection__customer"]
    raw_id_fields = ["connection", "resumed_from"]
    readonly_fields = ["id", "queued_at", "started_at", "finished_at", "heartbeat_at", "duration_display"]
    date_hierarchy = "queued_at"
    show_full_result_count = False
    actions = ["cancel_runs", "retry_runs"]

    @admin.action(description="Cancel (queued at once, running after the current page)", permissions=["trigger_sync"])
    def cancel_runs(self, request, queryset):
        actor, done = admin_actor(request), 0
        skipped = queryset.exclude(status__in=SyncRun.ACTIVE_STATUSES).count()
        for run in queryset.filter(status__in=SyncRun.ACTIVE_STATUSES).select_related("connection"):
            services.sync_run_cancel(run=run, actor=actor)
            done += 1
        report(self, request, done=done, verb="Cancel requested", errors=[])
        if skipped:
            self.message_user(request, f"{skipped} run(s) had already finished and were left alone.")

    @admin.action(description="Retry (same entity and mode; resumes from the checkpoint)", permissions=["trigger_sync"])
    def retry_runs(self, request, queryset):
        actor, done, errors = admin_actor(request), 0, []
        for run in queryset.select_related("connection__customer"):
            try:
                done += services.sync_run_retry(run=run, actor=actor).created
            except CatalogError as exc:
                errors.append(error_text(f"{run.connection} {run.entity}", exc))
        report(self, request, done=done, verb="Retries queued", errors=errors)

    @admin.display(description="Duration")
    def duration_display(self, obj):
        return str(obj.duration).split(".")[0] if obj.duration else "-"


@admin.register(Record)
class RecordAdmin(_EngineDataAdmin):
    list_display = ["remote_id", "entity", "connection", "modified_at", "deleted_at", "content_hash"]
    list_filter = ["entity"]
    search_fields = ["remote_id", "id"]
    list_select_related = ["connection__customer"]
    raw_id_fields = ["connection"]
    show_full_result_count = False
    # Besides: an edit here would be undone by the next sync and would reach no client, since it
    # takes no position in the change feed.


@admin.register(Incident)
class IncidentAdmin(ConnectionPermissions, _EngineDataAdmin):
    list_display = ["connection", "entity", "error_code", "status", "occurrences", "first_seen", "last_seen"]
    list_filter = ["status", "error_code", "entity"]
    search_fields = ["connection__name", "error_code", "message"]
    list_select_related = ["connection__customer"]
    raw_id_fields = ["connection", "last_run"]
    actions = ["acknowledge", "resolve"]

    @admin.action(description="Acknowledge", permissions=["manage_connection"])
    def acknowledge(self, request, queryset):
        # One call, so the whole action is one audit event per connection, as on the dashboard.
        chosen = list(queryset.filter(status=Incident.Status.OPEN).select_related("connection"))
        done = incidents.incidents_acknowledge(incidents=chosen, actor=admin_actor(request))
        report(self, request, done=done, verb="Acknowledged", errors=[])

    @admin.action(description="Resolve", permissions=["manage_connection"])
    def resolve(self, request, queryset):
        chosen = list(queryset.filter(status__in=Incident.UNRESOLVED).select_related("connection"))
        done = incidents.incidents_resolve(incidents=chosen, actor=admin_actor(request))
        report(self, request, done=done, verb="Resolved", errors=[])


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(_EngineDataAdmin):
    """Written by the workers only: a faked or edited beat would make a dead worker look alive to
    /healthz, and a deleted one a live worker dead. A stopped worker removes its own row."""

    list_display = ["hostname", "seen_at", "alive", "concurrency", "busy"]
    search_fields = ["hostname"]
    fields = list_display

    @admin.display(description="Alive (as /healthz counts)", boolean=True)
    def alive(self, obj):
        return timezone.now() - obj.seen_at <= timedelta(seconds=settings.HEALTH_WORKER_MAX_AGE_SECONDS)


@admin.register(SeenPage)
class SeenPageAdmin(_EngineDataAdmin):
    """The ids a full re-sync's page saw: deletions are decided from them, so a row edited or
    deleted here would delete records upstream still has, or keep ones it removed. Pruned with
    their run (syncs/seen.py) and by retention."""

    list_display = ["marker", "page", "connection", "entity", "id_count", "created_at"]
    list_filter = ["entity"]
    search_fields = ["=marker", "connection__name"]
    list_select_related = ["connection__customer"]
    fields = list_display
    show_full_result_count = False

    @admin.display(description="Ids")
    def id_count(self, obj):
        return len(obj.ids)  # the ids themselves are 32-hex strings by the thousand: no one reads them here
