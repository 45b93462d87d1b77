"""Making and queueing runs: the part of a run's life that both the services (a trigger) and
the outcomes (an automatic retry, a release) need, so neither has to import the other."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.celery import task_send
from core.errors import CATALOGUE
from syncs.models import Priority, SyncRun, SyncState, Trigger
from syncs.selectors import sync_run_active

TIMELINE_LIMIT = 60
AUTO_RETRY_WAIT = "automatic retry"  # how an automatic retry's wait_reason begins


class RunLost(Exception):
    """The run is no longer this worker's (reaped as stalled, requeued): stop writing."""


def run_note(*, run: SyncRun, event: str, **fields) -> None:
    """Appends to the run's timeline (kept short: the first and the latest entries)."""
    entry = {"at": timezone.now().isoformat(), "event": event, **fields}
    timeline = [*(run.timeline or []), entry]
    if len(timeline) > TIMELINE_LIMIT:
        timeline = timeline[:10] + timeline[-(TIMELINE_LIMIT - 10):]
    run.timeline = timeline
    SyncRun.objects.filter(pk=run.pk).update(timeline=timeline, heartbeat_at=timezone.now())


def run_enqueue(*, run: SyncRun) -> None:
    countdown = None
    if run.not_before:
        countdown = max(0.0, (run.not_before - timezone.now()).total_seconds())
    run_message_send(run_id=run.pk, ready_at=run.ready_at, countdown=countdown)


def run_message_send(*, run_id, ready_at: datetime, countdown: float | None = None) -> None:
    """The message for the run's current stay in the queue (`ready_at`): one sent before it last
    started, and still in the broker, does not start it again later (dispatch.run_pick)."""
    # Not robust on purpose: a caller whose broker is down hears of it (the API answers 503).
    # The run is already saved as queued, so nothing is lost: the reaper sends its message again
    # after SYNC_QUEUED_RESEND_SECONDS, and a retried trigger gets the same run back.
    args = [str(run_id), ready_at.isoformat()]
    transaction.on_commit(lambda: task_send("syncs.tasks.sync_run_execute_task", args=args, countdown=countdown))


def run_create(*, connection, entity: str, mode: str, trigger: str, requested_by: str = "", request_id: str = "",
               attempt: int = 1, not_before: datetime | None = None, wait_reason: str = "",
               priority: int | None = None) -> tuple[SyncRun, bool]:
    """Queues a run, or returns the active run of that (connection, entity) and False.
    `priority`: by default manual for every trigger but the schedule."""
    existing = sync_run_active(connection=connection, entity=entity)
    if existing:
        return existing, False
    if priority is None:
        priority = Priority.SCHEDULED if trigger == Trigger.SCHEDULE else Priority.MANUAL
    run = SyncRun(connection=connection, entity=entity, mode=mode, trigger=trigger, requested_by=requested_by,
                  request_id=request_id, attempt=attempt, not_before=not_before, wait_reason=wait_reason,
                  priority=priority)
    _resume_from_failed(run=run)
    try:
        with transaction.atomic():
            run.save(force_insert=True)
    except IntegrityError:
        # The partial unique index caught a concurrent trigger: hand back the run it created.
        existing = sync_run_active(connection=connection, entity=entity)
        if existing is None:
            raise
        return existing, False
    run_note(run=run, event="queued", trigger=trigger, priority=run.get_priority_display(), requested_by=requested_by,
             attempt=attempt,
             resumed_from=str(run.resumed_from_id) if run.resumed_from_id else None,
             not_before=not_before.isoformat() if not_before else None)
    run_enqueue(run=run)
    return run, True


def checkpoint_resumable(checkpoint: dict | None) -> bool:
    """A checkpoint past the first page, or one that says every page was read and written."""
    checkpoint = checkpoint or {}
    return bool(checkpoint.get("reader") or checkpoint.get("done"))


def _resume_from_failed(*, run: SyncRun) -> None:
    """A run after a failed one of the same mode picks up its checkpoint instead of starting over."""
    state = SyncState.objects.filter(connection=run.connection, entity=run.entity).first()
    run.cursor_from = state.cursor if state else None
    last = SyncRun.objects.filter(connection=run.connection, entity=run.entity).order_by("-queued_at").first()
    if (last is None or last.status != SyncRun.Status.FAILED or last.mode != run.mode
            or not CATALOGUE[last.error_code or "INTERNAL_ERROR"].retryable
            or not checkpoint_resumable(last.checkpoint)):
        return
    run.resumed_from = last
    run.checkpoint, run.cursor_from, run.pages = last.checkpoint, last.cursor_from, last.pages
    for name in SyncRun.COUNT_FIELDS:
        setattr(run, name, getattr(last, name))
    samples = (last.error_details or {}).get("failed_samples")
    if samples:
        run.error_details = {"failed_samples": samples}
