from django.contrib import admin

from syncs.models import Incident, Record, SyncRun, SyncState, WorkerHeartbeat


@admin.register(SyncState)
class SyncStateAdmin(admin.ModelAdmin):
    list_display = ["connection", "entity", "last_success_at", "next_due_at", "consecutive_failures",
                    "record_count", "last_error_code"]
    list_filter = ["entity", "last_error_code"]
    search_fields = ["connection__name", "connection__id"]
    list_select_related = ["connection__customer"]
    raw_id_fields = ["connection", "last_run"]


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ["id", "connection", "entity", "mode", "trigger", "status", "queued_at", "duration_display",
                    "pages", "fetched", "created", "updated", "deleted", "error_code"]
    list_filter = ["status", "mode", "trigger", "entity", "error_code"]
    search_fields = ["id", "connection__name", "request_id", "requested_by"]
    list_select_related = ["connection__customer"]
    raw_id_fields = ["connection", "resumed_from"]
    readonly_fields = ["id", "queued_at", "started_at", "finished_at", "heartbeat_at", "duration_display"]
    date_hierarchy = "queued_at"
    show_full_result_count = False

    @admin.display(description="Duration")
    def duration_display(self, obj):
        return str(obj.duration).split(".")[0] if obj.duration else "-"


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ["remote_id", "entity", "connection", "modified_at", "deleted_at", "content_hash"]
    list_filter = ["entity"]
    search_fields = ["remote_id", "id"]
    list_select_related = ["connection__customer"]
    raw_id_fields = ["connection"]
    readonly_fields = ["id", "content_hash", "modified_at", "last_seen_run"]
    show_full_result_count = False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["connection", "entity", "error_code", "status", "occurrences", "first_seen", "last_seen"]
    list_filter = ["status", "error_code", "entity"]
    search_fields = ["connection__name", "error_code", "message"]
    list_select_related = ["connection__customer"]
    raw_id_fields = ["connection", "last_run"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "seen_at"]
