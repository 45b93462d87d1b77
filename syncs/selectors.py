"""Reads of syncs for the dashboard, the API, the CLI and webhook payloads."""

from django.db.models import QuerySet

from syncs.models import Incident, SyncRun, SyncState


def _iso(value):
    return value.isoformat() if value else None


def sync_run_payload(run: SyncRun) -> dict:
    """The run as the API, webhooks and `sync --json` show it."""
    error = None
    if run.error_code:
        error = {"code": run.error_code, "message": run.error_message, "details": run.error_details}
    return {
        "id": str(run.pk), "connection_id": str(run.connection_id), "entity": run.entity, "mode": run.mode,
        "trigger": run.trigger, "status": run.status, "requested_by": run.requested_by, "request_id": run.request_id,
        "queued_at": _iso(run.queued_at), "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
        "pages": run.pages, "counts": run.counts, "cursor_from": run.cursor_from, "cursor_to": run.cursor_to,
        "resumed_from": str(run.resumed_from_id) if run.resumed_from_id else None, "error": error,
    }


def incident_payload(incident: Incident) -> dict:
    return {"id": incident.pk, "connection_id": str(incident.connection_id), "entity": incident.entity,
            "error_code": incident.error_code, "status": incident.status, "occurrences": incident.occurrences,
            "first_seen": _iso(incident.first_seen), "last_seen": _iso(incident.last_seen),
            "last_run_id": str(incident.last_run_id) if incident.last_run_id else None, "message": incident.message}


def sync_run_list(*, connection=None, status: str | None = None, entity: str | None = None,
                  trigger: str | None = None) -> QuerySet[SyncRun]:
    runs = SyncRun.objects.select_related("connection__customer")
    filters = {"connection": connection, "status": status, "entity": entity, "trigger": trigger}
    return runs.filter(**{k: v for k, v in filters.items() if v})


def sync_run_active(*, connection, entity: str) -> SyncRun | None:
    return SyncRun.objects.filter(connection=connection, entity=entity, status__in=SyncRun.ACTIVE_STATUSES).first()


def sync_state_list(*, connection) -> list[SyncState]:
    return list(SyncState.objects.filter(connection=connection).select_related("last_run"))
