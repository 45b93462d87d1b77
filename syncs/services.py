"""Sync writes every caller goes through: the dashboard, the API, the CLI, admin actions, beat."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connections.connectors.registry import connector_class
from connections.models import Connection
from core.audit import Actor, audit_record
from core.errors import CATALOGUE, CatalogError
from syncs import outcomes
from syncs.dispatch import connections_at_cap, next_due_after, runs_ready
from syncs.machinery import broker_queue_depths
from syncs.models import Mode, Priority, SyncRun, SyncState, Trigger
from syncs.runs import AUTO_RETRY_WAIT, run_create, run_enqueue, run_note

RESEND_LIMIT = 500  # messages resent per reaper pass at most


@dataclass
class TriggeredRun:
    run: SyncRun
    created: bool  # False: an active run already covered this request and is returned instead


def sync_entities_validate(*, connection: Connection, entities: list[str] | None) -> list[str]:
    if not entities:
        return list(connection.entities)
    supported = set(connector_class(connection.connector).entities) & set(connection.entities)
    unknown = [e for e in entities if e not in supported]
    if unknown:
        raise CatalogError("VALIDATION_FAILED", f"Not an enabled entity of this connection: {', '.join(unknown)}.",
                           details={"fields": {"entities": f"choose from {sorted(supported)}"}})
    return list(dict.fromkeys(entities))


def sync_allowed_check(*, connection: Connection) -> None:
    if connection.status in (Connection.Status.PAUSED, Connection.Status.DISCONNECTED):
        raise CatalogError("CONNECTION_NOT_ACTIVE", f"The connection is {connection.status}; resume it first.",
                           details={"status": connection.status})
    if connection.status == Connection.Status.AUTH_FAILED:
        raise CatalogError("REAUTHORIZATION_REQUIRED", connection.status_reason or CATALOGUE[
            "REAUTHORIZATION_REQUIRED"].message, details={"status": connection.status})


def sync_trigger(*, connection: Connection, entities: list[str] | None = None, mode: str = Mode.INCREMENTAL,
                 trigger: str = Trigger.SCHEDULE, requested_by: str = "", request_id: str = "",
                 actor: Actor | None = None) -> list[TriggeredRun]:
    """Queues a run per entity, or returns the active run that already covers it.

    A full re-sync asked for while an incremental run of that entity is active is refused
    with SYNC_IN_PROGRESS: merging it into the incremental run would silently skip deletions.
    """
    if mode not in Mode.values:
        raise CatalogError("VALIDATION_FAILED", details={"fields": {"mode": f"one of {Mode.values}"}})
    if trigger != Trigger.SCHEDULE:
        sync_allowed_check(connection=connection)
    entities = sync_entities_validate(connection=connection, entities=entities)
    with transaction.atomic():
        if mode == Mode.FULL:
            _refuse_full_over_incremental(connection=connection, entities=entities)
        results = [_trigger_one(connection=connection, entity=entity, mode=mode, trigger=trigger,
                                requested_by=requested_by, request_id=request_id) for entity in entities]
        if actor is not None:
            audit_record(actor=actor, action=f"sync.{mode}_requested", target=connection, connection=connection,
                         details={"entities": entities, "runs": [str(r.run.pk) for r in results],
                                  "created": [r.created for r in results]})
    return results


def _refuse_full_over_incremental(*, connection: Connection, entities: list[str]) -> None:
    busy = list(SyncRun.objects.filter(connection=connection, entity__in=entities, mode=Mode.INCREMENTAL,
                                       status__in=SyncRun.ACTIVE_STATUSES).values_list("entity", "id"))
    if busy:
        raise CatalogError("SYNC_IN_PROGRESS", "An incremental sync of " + ", ".join(e for e, _ in busy) +
                           " is running; cancel it or wait for it before a full re-sync.",
                           details={"entities": [e for e, _ in busy], "run_ids": [str(i) for _, i in busy]})


def _trigger_one(*, connection, entity, mode, trigger, requested_by, request_id) -> TriggeredRun:
    run, created = run_create(connection=connection, entity=entity, mode=mode, trigger=trigger,
                              requested_by=requested_by, request_id=request_id)
    if not created and mode == Mode.FULL and run.mode == Mode.INCREMENTAL:
        # A concurrent trigger won the race with an incremental run: refuse as if it had been first.
        _refuse_full_over_incremental(connection=connection, entities=[entity])
    if not created and trigger != Trigger.SCHEDULE:
        _retry_bring_forward(run=run, requested_by=requested_by)
        _priority_raise(run=run, requested_by=requested_by)
    return TriggeredRun(run=run, created=created)


def _priority_raise(*, run: SyncRun, requested_by: str) -> None:
    """"Sync now" on an entity whose scheduled run is still waiting behind the backlog: someone
    is waiting on that run now, so it goes ahead like a manual one (and no longer gives way)."""
    if SyncRun.objects.filter(pk=run.pk, status__in=SyncRun.ACTIVE_STATUSES,
                              priority__lt=Priority.MANUAL).update(priority=Priority.MANUAL):
        run.priority = Priority.MANUAL
        run_note(run=run, event="priority_raised", priority=run.get_priority_display(), requested_by=requested_by)


def _retry_bring_forward(*, run: SyncRun, requested_by: str) -> None:
    """Someone asking for a sync now while an automatic retry waits out its backoff gets it now:
    they may just have fixed the cause. A wait the upstream asked for (Retry-After) is kept."""
    if run.waiting is None or not run.wait_reason.startswith(AUTO_RETRY_WAIT):
        return
    if SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.QUEUED).update(not_before=None, wait_reason=""):
        run.not_before, run.wait_reason = None, ""
        run_note(run=run, event="brought_forward", requested_by=requested_by)
        run_enqueue(run=run)


def sync_run_cancel(*, run: SyncRun, actor: Actor) -> SyncRun:
    """Cancels a queued run at once and asks a running one to stop between pages."""
    with transaction.atomic():
        if not SyncRun.objects.filter(pk=run.pk, status__in=SyncRun.ACTIVE_STATUSES).update(cancel_requested=True):
            run.refresh_from_db()
            return run
        audit_record(actor=actor, action="sync.cancel_requested", target=run, connection=run.connection,
                     details={"entity": run.entity})
        outcomes.run_cancel_if_requested(run_id=run.pk)
    run.refresh_from_db()
    return run


def sync_run_retry(*, run: SyncRun, actor: Actor) -> TriggeredRun:
    return sync_trigger(connection=run.connection, entities=[run.entity], mode=run.mode, trigger=Trigger.RETRY,
                        requested_by=actor.name, request_id=actor.request_id, actor=actor)[0]


def syncs_schedule_due(*, limit: int = 500) -> list[TriggeredRun]:
    """Beat, every 30 s: an incremental run for each due SyncState of a schedulable connection."""
    now = timezone.now()
    due = (SyncState.objects.filter(next_due_at__lte=now, connection__status__in=[
        Connection.Status.ACTIVE, Connection.Status.UNREACHABLE]).select_related("connection").order_by("next_due_at"))
    triggered = []
    for state in due[:limit]:
        connection = state.connection
        # Provisional: the run's outcome sets the real next time (its slot, or a backoff).
        SyncState.objects.filter(pk=state.pk).update(next_due_at=next_due_after(
            connection_id=connection.pk, interval_minutes=connection.sync_interval_minutes, after=now))
        if state.entity in connection.entities:
            triggered += sync_trigger(connection=connection, entities=[state.entity], trigger=Trigger.SCHEDULE,
                                      requested_by="scheduler")
    return triggered


def syncs_reap() -> dict:
    """Fails runs that stopped sending heartbeats (each resumes through its automatic retry) and
    resends the messages of queued runs that nobody picked up in time."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.SYNC_STALL_SECONDS)
    reaped, resumed = [], []
    for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=cutoff).select_related(
            "connection"):
        error = CatalogError("SYNC_STALLED", f"No heartbeat since {run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC "
                             "(worker lost?); requeued from its checkpoint.")
        failure = outcomes.run_finish_failed(run=run, error=error, only_if_stalled_before=cutoff)
        if failure.failed:
            reaped.append(str(run.pk))
            resumed += [str(failure.retry.pk)] if failure.retry else []
    return {"reaped": reaped, "resumed": resumed, "resent": [str(pk) for pk in _lost_messages_resend(now=now)]}


def _lost_messages_resend(*, now) -> list:
    """A sync message only says "a run is ready" (syncs/dispatch.py), so what matters is that the
    broker holds at least as many as there are startable runs. Runs that waited past
    SYNC_QUEUED_RESEND_SECONDS while the queue holds fewer messages than that (a broker restarted
    empty, a send that failed after commit) get messages again, the longest waiting first; a long
    backlog that is merely slow gets none."""
    cutoff = now - timedelta(seconds=settings.SYNC_QUEUED_RESEND_SECONDS)
    startable = runs_ready(now=now).exclude(connection_id__in=connections_at_cap())
    stale = startable.filter(ready_at__lt=cutoff).filter(Q(not_before__isnull=True) | Q(not_before__lt=cutoff))
    if not stale.exists():
        return []
    depth = broker_queue_depths(queues=("syncs",))["syncs"]
    if depth is None:
        return []
    missing = startable.count() - depth
    lost = list(stale.order_by("-priority", "ready_at")[:max(0, min(missing, RESEND_LIMIT))])
    for run in lost:
        with transaction.atomic():
            run_note(run=run, event="resent", reason="the broker held fewer messages than ready runs; sent again")
            run_enqueue(run=run)
    return [run.pk for run in lost]
