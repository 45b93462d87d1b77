"""Reads of syncs for the dashboard, the API, the CLI and webhook payloads."""

from django.db.models import QuerySet

from syncs.dispatch import SLOT_WAIT, run_slot_waiting
from syncs.models import Incident, Record, SyncRun, SyncState


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
        "pages": run.pages, "total_records": run.total_records, "percent_done": run.percent_done,
        "counts": run.counts, "cursor_from": run.cursor_from, "cursor_to": run.cursor_to,
        "resumed_from": str(run.resumed_from_id) if run.resumed_from_id else None, "attempt": run.attempt,
        "priority": run.get_priority_display(), "yields": run.yields, "waiting": run_waiting(run), "error": error,
    }


def run_waiting(run: SyncRun) -> dict | None:
    """What a queued run waits for: a time (a backoff, a Retry-After), or a slot on its connection."""
    waiting = run.waiting
    if waiting:
        return {"reason": waiting["reason"], "until": _iso(waiting["until"])}
    if run_slot_waiting(run):
        return {"reason": SLOT_WAIT, "until": None}
    return None


def incident_payload(incident: Incident) -> dict:
    return {"id": incident.pk, "connection_id": str(incident.connection_id), "entity": incident.entity,
            "entities": list(incident.entities), "error_code": incident.error_code, "status": incident.status,
            "occurrences": incident.occurrences,
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


# --- API v1 reads ------------------------------------------------------------------------------

def record_list(*, connection, entity: str, modified_after=None, include_deleted: bool = False) -> QuerySet[Record]:
    """A connection's records of one entity, for keyset pagination over the change feed (change_seq, id)."""
    records = Record.objects.filter(connection=connection, entity=entity)
    if not include_deleted:
        records = records.filter(deleted_at__isnull=True)
    if modified_after is not None:
        records = records.filter(modified_at__gte=modified_after)
    return records


def change_seq_now(*, connection, entity: str) -> int:
    """The change feed's newest committed position: a client with nothing to read yet polls after it."""
    state = SyncState.objects.filter(connection=connection, entity=entity).values_list("change_seq", flat=True)
    return state.first() or 0


def record_get(*, connection, entity: str, record_id) -> Record | None:
    return Record.objects.filter(connection=connection, entity=entity, pk=record_id).first()


def sync_run_get(*, connection=None, run_id) -> SyncRun | None:
    runs = SyncRun.objects.filter(pk=run_id)
    if connection is not None:
        runs = runs.filter(connection=connection)
    return runs.first()


def sync_status(*, connection) -> list[dict]:
    """Per enabled entity: the active run if any, the last run's outcome, success, schedule and error."""
    from connections.models import Connection

    states = {state.entity: state for state in sync_state_list(connection=connection)}
    active = {run.entity: run for run in SyncRun.objects.filter(connection=connection,
                                                                status__in=SyncRun.ACTIVE_STATUSES)}
    scheduled = connection.status in (Connection.Status.ACTIVE, Connection.Status.UNREACHABLE)
    result = []
    for entity in connection.entities:
        state, run = states.get(entity), active.get(entity)
        last_run = state.last_run if state else None
        if run is not None:
            status = run.status
        elif last_run is not None:
            status = last_run.status
        else:
            status = "never_synced"
        error = None
        if state and state.last_error_code:
            error = {"code": state.last_error_code, "message": state.last_error_message}
        result.append({
            "entity": entity, "status": status,
            "active_run_id": str(run.pk) if run else None,
            "last_run_id": str(last_run.pk) if last_run else None,
            "last_success_at": state.last_success_at if state else None,
            "last_attempt_at": state.last_attempt_at if state else None,
            "next_scheduled_at": state.next_due_at if state and scheduled else None,
            "consecutive_failures": state.consecutive_failures if state else 0,
            "record_count": state.record_count if state else 0,
            "last_error": error,
        })
    return result
