"""How a run ends, and everything that follows from it: the SyncState, incidents, the
connection's status and the webhook events, each written in the run's final transaction."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connections.models import Connection
from core.errors import CatalogError
from syncs import incidents
from syncs.connection_status import connection_set_status
from syncs.dispatch import next_due_after, runs_ready
from syncs.models import Mode, Record, SyncRun, SyncState, Trigger
from syncs.rollups import rollup_add
from syncs.runs import AUTO_RETRY_WAIT, RunLost, run_create, run_enqueue, run_note
from syncs.seen import seen_pages_clear
from syncs.selectors import sync_run_payload
from syncs.writers import deletions_mark
from webhooks.services import event_emit

# An automatic retry would be refused on a paused, disconnected or auth_failed connection.
RETRYABLE_CONNECTION_STATUSES = (Connection.Status.ACTIVE, Connection.Status.PENDING, Connection.Status.UNREACHABLE)

def run_requeue(*, run: SyncRun, lease, reason: str, not_before: datetime | None = None,
                wait_reason: str = "", yielded: bool = False, keep_slice: bool = False) -> None:
    """Gives the worker back and queues the same run again, to go on from its checkpoint (at
    `not_before` if given), behind the runs already waiting. Only the worker holding the run's
    lease can do it. `yielded`: it gave way to waiting work (dispatch.yield_reason);
    `keep_slice`: it goes on later with what was left of its fair slice (dispatch.slice_start)."""
    now = timezone.now()
    with transaction.atomic():
        if not SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING, lease=lease).update(
                status=SyncRun.Status.QUEUED, lease=None, not_before=not_before, wait_reason=wait_reason,
                ready_at=now, yields=F("yields") + int(yielded), claimed_at=run.claimed_at if keep_slice else None):
            raise RunLost()
        run.status, run.not_before, run.wait_reason, run.ready_at = SyncRun.Status.QUEUED, not_before, wait_reason, now
        run.yields += int(yielded)
        run_note(run=run, event="yielded" if yielded else "requeued", reason=reason,
                 until=not_before.isoformat() if not_before else None)
        run_enqueue(run=run)


def connection_next_dispatch(*, connection_id) -> None:
    """After a run of this connection ends or yields: a message for its next ready run, which its
    cap may have held back while every message went by (dispatch.run_pick)."""
    waiting = runs_ready(now=timezone.now()).filter(connection_id=connection_id).order_by("-priority", "ready_at")
    run = waiting.first()
    if run is not None:
        run_enqueue(run=run)


def run_cancel_if_requested(*, run_id) -> None:
    run = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.QUEUED, cancel_requested=True).first()
    if run:
        run_finish_cancelled(run=run)


def sync_state_for(run: SyncRun) -> SyncState:
    state, _ = SyncState.objects.select_for_update().get_or_create(connection_id=run.connection_id, entity=run.entity)
    return state


@transaction.atomic
def run_finish_succeeded(*, run: SyncRun, lease, window_start, marker, cursor_to: dict | None,
                         unidentified: int = 0, whole_window: bool | None = None, seen_pages: int | None) -> None:
    """Ends a run that read and wrote every page. Conditional on the run still being this
    worker's: a run reaped meanwhile stays failed, and its retry owns what comes next.

    `whole_window`: the run read every record of the window (a full run, or an incremental one
    whose upstream cannot filter by changed-since), so it may detect deletions; None: full runs.
    `seen_pages`: how many pages of seen ids its checkpoint counted (None: not counted)."""
    now = timezone.now()
    if not SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING, lease=lease).update(
            status=SyncRun.Status.SUCCEEDED, finished_at=now, heartbeat_at=now, cursor_to=cursor_to):
        raise RunLost()
    if whole_window is None:
        whole_window = run.mode == Mode.FULL
    notes = _deletions(run=run, window_start=window_start, marker=marker, unidentified=unidentified, now=now,
                       whole_window=whole_window, seen_pages=seen_pages)
    seen_pages_clear(marker=marker)  # used up: nothing resumes a run that succeeded
    # Tombstones were counted page by page; the scan's deletions add to them.
    run.deleted += notes.pop("deleted", 0)
    run.error_details = {**(run.error_details or {}), **notes}
    if run.fetched and run.failed_records == run.fetched:
        raise CatalogError("MAPPING_FAILED", f"None of the {run.fetched} records could be mapped.",
                           details=run.error_details)
    run.status, run.finished_at, run.heartbeat_at, run.cursor_to = SyncRun.Status.SUCCEEDED, now, now, cursor_to
    SyncRun.objects.filter(pk=run.pk).update(deleted=run.deleted, error_details=run.error_details)
    run_note(run=run, event="succeeded", **run.counts)
    connection = run.connection
    _state_after_success(run=run, cursor_to=cursor_to, now=now)
    if connection.status in (Connection.Status.PENDING, Connection.Status.UNREACHABLE, Connection.Status.AUTH_FAILED):
        connection_set_status(connection=connection, status=Connection.Status.ACTIVE,
                              reason=f"{run.entity} synced successfully")
    incidents.incidents_after_success(run=run)
    event_emit(type="sync.completed", connection=connection, data={"run": sync_run_payload(run)})
    rollup_add(run=run)


def _deletions(*, run: SyncRun, window_start, marker, unidentified: int, now, whole_window: bool,
               seen_pages: int | None) -> dict:
    if not whole_window:
        return {}
    if unidentified:
        # A record we could not identify may be any stored one: none can be called missing.
        return {"unidentified_records": unidentified,
                "deletion_skipped": f"{unidentified} upstream records could not be identified (no id), so this "
                                    "run cannot tell which records are missing; none were marked deleted"}
    return deletions_mark(connection_id=run.connection_id, entity=run.entity, window_start=window_start,
                          marker=marker, fetched=run.fetched, now=now, seen_pages=seen_pages)


def _state_after_success(*, run: SyncRun, cursor_to: dict | None, now) -> None:
    state = sync_state_for(run)
    state.cursor = cursor_to
    state.last_success_at = state.last_attempt_at = now
    state.consecutive_failures = 0
    state.next_due_at = next_due_after(connection_id=run.connection_id,
                                       interval_minutes=run.connection.sync_interval_minutes, after=now)
    state.record_count = Record.objects.filter(connection_id=run.connection_id, entity=run.entity,
                                               deleted_at__isnull=True).count()
    state.last_run, state.last_error_code, state.last_error_message = run, "", ""
    state.save(update_fields=["cursor", "last_success_at", "last_attempt_at", "consecutive_failures", "next_due_at",
                              "record_count", "last_run", "last_error_code", "last_error_message"])


@dataclass
class Failure:
    failed: bool  # False: the run was not this caller's to fail (finished, reaped, or taken over)
    retry: SyncRun | None = None


def run_finish_failed(*, run: SyncRun, error: CatalogError, lease=None, only_if_stalled_before=None) -> Failure:
    """Fails an active run: the worker holding `lease`, or the reaper (`only_if_stalled_before`:
    only if its heartbeat is older). A retryable failure queues an automatic retry."""
    with transaction.atomic():
        now = timezone.now()
        guard = {"heartbeat_at__lt": only_if_stalled_before} if only_if_stalled_before else {}
        if lease is not None:
            guard["lease"] = lease
        run.refresh_from_db(fields=["error_details"])
        details = {**(run.error_details or {}), **(error.details or {})}
        if not SyncRun.objects.filter(pk=run.pk, status__in=SyncRun.ACTIVE_STATUSES, **guard).update(
                status=SyncRun.Status.FAILED, finished_at=now, error_code=error.code, error_message=error.message,
                error_details=details, lease=None):
            return Failure(failed=False)
        run.refresh_from_db()
        run_note(run=run, event="failed", code=error.code, message=error.message)
        _state_after_failure(run=run, error=error, now=now)
        connection_status_after_failure(run=run, error=error)
        incidents.incident_record(run=run, code=error.code, message=error.message)
        retry = _retry_schedule(run=run, error=error, now=now)
        event_emit(type="sync.failed", connection=run.connection, data={"run": sync_run_payload(run)})
        rollup_add(run=run)
    return Failure(failed=True, retry=retry)


def _state_after_failure(*, run: SyncRun, error: CatalogError, now) -> None:
    state = sync_state_for(run)
    state.consecutive_failures += 1
    state.last_attempt_at, state.last_run = now, run
    state.last_error_code, state.last_error_message = error.code, error.message
    state.next_due_at = now + backoff(failures=state.consecutive_failures,
                                      interval_minutes=run.connection.sync_interval_minutes)
    state.save(update_fields=["consecutive_failures", "last_attempt_at", "last_run", "last_error_code",
                              "last_error_message", "next_due_at"])


def _retry_schedule(*, run: SyncRun, error: CatalogError, now) -> SyncRun | None:
    """A retryable failure is tried again from its checkpoint, SYNC_AUTO_RETRIES times at most,
    each after twice the wait of the one before; then the run stays failed with its incident."""
    connection = run.connection
    if (not error.spec.retryable or run.attempt > settings.SYNC_AUTO_RETRIES
            or connection.status not in RETRYABLE_CONNECTION_STATUSES):
        return None
    delay = settings.SYNC_AUTO_RETRY_BASE_SECONDS * 2 ** (run.attempt - 1)
    if error.retry_after:
        delay = max(delay, error.retry_after)
    retry, created = run_create(
        connection=connection, entity=run.entity, mode=run.mode, trigger=Trigger.RETRY, requested_by="auto-retry",
        request_id=run.request_id, priority=run.priority, attempt=run.attempt + 1,
        not_before=now + timedelta(seconds=delay),
        wait_reason=f"{AUTO_RETRY_WAIT} {run.attempt} of {settings.SYNC_AUTO_RETRIES} after {error.code}")
    if not created:
        return None
    run_note(run=run, event="retry_scheduled", retry_run=str(retry.pk), attempt=retry.attempt,
             at=retry.not_before.isoformat())
    return retry


def backoff(*, failures: int, interval_minutes: int) -> timedelta:
    """1, 2, 4 ... minutes after consecutive failures, never longer than the interval."""
    return timedelta(minutes=min(2 ** (failures - 1), interval_minutes))


def connection_status_after_failure(*, run: SyncRun, error: CatalogError) -> None:
    connection = run.connection
    if error.code == "UPSTREAM_AUTHENTICATION_FAILED":
        if connection_set_status(connection=connection, status=Connection.Status.AUTH_FAILED, reason=error.message):
            event_emit(type="connection.reauthorization_required", connection=connection,
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
    # Nothing resumes a cancelled run, so the seen ids of its pages are of no more use.
    seen_pages_clear(marker=uuid.UUID(run.checkpoint["marker"]) if (run.checkpoint or {}).get("marker") else run.pk)
    run_note(run=run, event="cancelled")
    SyncState.objects.filter(connection_id=run.connection_id, entity=run.entity).update(last_attempt_at=now,
                                                                                        last_run=run)
    event_emit(type="sync.cancelled", connection=run.connection, data={"run": sync_run_payload(run)})
    rollup_add(run=run)
