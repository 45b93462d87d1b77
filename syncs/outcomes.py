"""How a run ends, and everything that follows from it: the SyncState, incidents, the
connection's status and the webhook events, each written in the run's final transaction."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from config.errors import CatalogError
from connections.models import Connection
from connections.services import connection_set_status
from syncs import incidents
from syncs.models import Mode, Record, SyncRun, SyncState
from syncs.selectors import sync_run_payload

TIMELINE_LIMIT = 60


def events_emit(*, type: str, connection: Connection, data: dict) -> None:
    # Imported late: syncs calls the webhooks service, never the reverse.
    from webhooks.services import event_emit

    event_emit(type=type, connection=connection, data=data)


def run_note(*, run: SyncRun, event: str, **fields) -> None:
    """Appends to the run's timeline (kept short: the first and the latest entries)."""
    entry = {"at": timezone.now().isoformat(), "event": event, **fields}
    timeline = [*(run.timeline or []), entry]
    if len(timeline) > TIMELINE_LIMIT:
        timeline = timeline[:10] + timeline[-(TIMELINE_LIMIT - 10):]
    run.timeline = timeline
    SyncRun.objects.filter(pk=run.pk).update(timeline=timeline, heartbeat_at=timezone.now())


def run_enqueue(*, run: SyncRun) -> None:
    from syncs.tasks import sync_run_execute_task

    run_id = str(run.pk)
    # Not robust on purpose: a caller whose broker is down hears of it (the API answers 503).
    # The run is already saved as queued, so nothing is lost: the reaper sends its message again
    # after SYNC_QUEUED_RESEND_SECONDS, and a retried trigger gets the same run back.
    transaction.on_commit(lambda: sync_run_execute_task.delay(run_id))


def run_requeue(*, run: SyncRun) -> None:
    with transaction.atomic():
        SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(status=SyncRun.Status.QUEUED)
        run_note(run=run, event="requeued", reason="task time limit reached; continuing from the checkpoint")
        run_enqueue(run=run)


def run_cancel_if_requested(*, run_id) -> None:
    run = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.QUEUED, cancel_requested=True).first()
    if run:
        run_finish_cancelled(run=run)


def sync_state_for(run: SyncRun) -> SyncState:
    state, _ = SyncState.objects.select_for_update().get_or_create(connection_id=run.connection_id, entity=run.entity)
    return state


@transaction.atomic
def run_finish_succeeded(*, run: SyncRun, window_start, marker, cursor_to: dict | None) -> None:
    from syncs.engine import deletions_detect

    now = timezone.now()
    notes = deletions_detect(run=run, window_start=window_start, marker=marker) if run.mode == Mode.FULL else {}
    run.deleted = notes.pop("deleted", 0)
    if notes:
        run.error_details = {**(run.error_details or {}), **notes}
    if run.fetched and run.failed_records == run.fetched:
        raise CatalogError("MAPPING_FAILED", f"None of the {run.fetched} records could be mapped.",
                           details=run.error_details)
    run.status, run.finished_at, run.heartbeat_at, run.cursor_to = SyncRun.Status.SUCCEEDED, now, now, cursor_to
    run.save(update_fields=["status", "finished_at", "heartbeat_at", "cursor_to", "deleted", "error_details"])
    run_note(run=run, event="succeeded", **run.counts)

    connection = run.connection
    state = sync_state_for(run)
    state.cursor = cursor_to
    state.last_success_at = state.last_attempt_at = now
    state.consecutive_failures = 0
    state.next_due_at = now + timedelta(minutes=connection.sync_interval_minutes)
    state.record_count = Record.objects.filter(connection_id=run.connection_id, entity=run.entity,
                                               deleted_at__isnull=True).count()
    state.last_run, state.last_error_code, state.last_error_message = run, "", ""
    state.save()
    if connection.status in (Connection.Status.PENDING, Connection.Status.UNREACHABLE, Connection.Status.AUTH_FAILED):
        connection_set_status(connection=connection, status=Connection.Status.ACTIVE,
                              reason=f"{run.entity} synced successfully")
    incidents.incidents_resolve_after_success(run=run)
    events_emit(type="sync.completed", connection=connection, data={"run": sync_run_payload(run)})


def run_finish_failed(*, run: SyncRun, error: CatalogError, only_if_stalled_before=None) -> bool:
    """Fails an active run; with `only_if_stalled_before`, only if its heartbeat is older (the reaper)."""
    with transaction.atomic():
        now = timezone.now()
        guard = {"heartbeat_at__lt": only_if_stalled_before} if only_if_stalled_before else {}
        run.refresh_from_db(fields=["error_details"])
        details = {**(run.error_details or {}), **(error.details or {})}
        if not SyncRun.objects.filter(pk=run.pk, status__in=SyncRun.ACTIVE_STATUSES, **guard).update(
                status=SyncRun.Status.FAILED, finished_at=now, error_code=error.code, error_message=error.message,
                error_details=details):
            return False
        run.refresh_from_db()
        run_note(run=run, event="failed", code=error.code, message=error.message)
        state = sync_state_for(run)
        state.consecutive_failures += 1
        state.last_attempt_at, state.last_run = now, run
        state.last_error_code, state.last_error_message = error.code, error.message
        state.next_due_at = now + backoff(failures=state.consecutive_failures,
                                          interval_minutes=run.connection.sync_interval_minutes)
        state.save()
        connection_status_after_failure(run=run, error=error)
        incidents.incident_record_failure(run=run)
        events_emit(type="sync.failed", connection=run.connection, data={"run": sync_run_payload(run)})
    return True


def backoff(*, failures: int, interval_minutes: int) -> timedelta:
    """1, 2, 4 ... minutes after consecutive failures, never longer than the interval."""
    return timedelta(minutes=min(2 ** (failures - 1), interval_minutes))


def connection_status_after_failure(*, run: SyncRun, error: CatalogError) -> None:
    connection = run.connection
    if error.code == "UPSTREAM_AUTHENTICATION_FAILED":
        if connection_set_status(connection=connection, status=Connection.Status.AUTH_FAILED, reason=error.message):
            events_emit(type="connection.reauthorization_required", connection=connection,
                        data={"connection_id": str(connection.pk), "reason": error.message, "run_id": str(run.pk)})
    elif error.code == "UPSTREAM_UNREACHABLE" and connection.status == Connection.Status.ACTIVE:
        connection_set_status(connection=connection, status=Connection.Status.UNREACHABLE, reason=error.message)


@transaction.atomic
def run_finish_cancelled(*, run: SyncRun) -> None:
    now = timezone.now()
    updated = SyncRun.objects.filter(pk=run.pk, status__in=SyncRun.ACTIVE_STATUSES).update(
        status=SyncRun.Status.CANCELLED, finished_at=now, error_code="SYNC_CANCELLED",
        error_message="The run was cancelled; records written before the cancel are kept.")
    if not updated:
        return
    run.refresh_from_db()
    run_note(run=run, event="cancelled")
    SyncState.objects.filter(connection_id=run.connection_id, entity=run.entity).update(last_attempt_at=now,
                                                                                        last_run=run)
    events_emit(type="sync.cancelled", connection=run.connection, data={"run": sync_run_payload(run)})
