"""Which queued run a free worker takes, when a running one gives its worker back, and when a
connection's next scheduled sync is due (docs/architecture.md, "Priority and fair shares").

A sync message names a run, but the worker that receives it starts a waiting run of higher
priority instead when there is one (and sends the named run a new message). So a manual run
starts at the next free worker even with thousands of scheduled messages ahead of it in the
broker, on Redis and on the filesystem broker alike, without broker priorities.
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection as db
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from syncs.models import Priority, SyncRun

SLOT_WAIT = "waiting for a slot on this connection"
YIELD_TO_MANUAL = "yielded to a manual sync"
YIELD_TO_OTHERS = "yielded to other connections' runs"
# A Postgres advisory lock key ("psyn"): claims take turns, so two workers can never both start
# a connection's last free slot. A claim is a few short queries.
_CLAIM_LOCK = 0x7073796E


def claims_serialize() -> None:
    """Inside the claim's transaction. SQLite needs nothing: its transactions are IMMEDIATE
    (config/settings/base.py), so writers already take turns."""
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CLAIM_LOCK])


def runs_ready(*, now: datetime) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(Q(not_before__isnull=True) | Q(not_before__lte=now), status=SyncRun.Status.QUEUED,
                                  cancel_requested=False)


def connections_at_cap() -> QuerySet:
    """The ids of connections running SYNC_MAX_RUNS_PER_CONNECTION runs already (as a subquery)."""
    return (SyncRun.objects.filter(status=SyncRun.Status.RUNNING).values("connection_id")
            .annotate(running=Count("id")).filter(running__gte=settings.SYNC_MAX_RUNS_PER_CONNECTION)
            .values("connection_id"))


def run_pick(*, hint, now: datetime, hint_ready_at: datetime | None = None) -> uuid.UUID | None:
    """The run a worker given `hint`'s message should start: `hint`, unless a startable run of
    higher priority waits, or one of its priority that gave way to a manual run, or one ready
    well before it (the claimer then sends `hint` a new message). None if `hint` cannot
    start: taken already (a duplicate message does nothing), not yet due, cancelled, or its
    connection at its cap (a run ending there sends a message for it again). A message for an
    earlier stay in the queue (`hint_ready_at` older than the run's ready_at) does nothing
    either: the run's stay now has its own, and an old one still in the broker among runs queued
    long after would start it again ahead of them."""
    startable = runs_ready(now=now).exclude(connection_id__in=connections_at_cap())
    named = startable.filter(pk=hint) if hint_ready_at is None else startable.filter(pk=hint, ready_at=hint_ready_at)
    named_run = named.values_list("priority", "ready_at").first()
    if named_run is None:
        return None
    priority, ready_at = named_run
    higher = startable.filter(priority__gt=priority).order_by("-priority", "ready_at")
    # A run that gave its worker to a manual run (its slice kept: claimed_at set while queued)
    # takes the next worker of its priority back, instead of waiting behind everything queued
    # since it started: a Sync now delays it by the manual run's time, no more.
    preempted = startable.filter(priority=priority, claimed_at__isnull=False).exclude(pk=hint).order_by("ready_at")
    # Messages mostly arrive in the order runs became ready, but not always: one sent again
    # (its run was passed over for a manual one) waits at the back of the broker. A run that has
    # been ready noticeably longer than the named one goes first, so first ready is first run.
    overdue = startable.filter(priority=priority, ready_at__lt=ready_at - timedelta(
        seconds=settings.SYNC_YIELD_AFTER_SECONDS)).order_by("ready_at")
    for candidates in (higher, preempted, overdue):
        picked = candidates.values_list("pk", flat=True).first()
        if picked:
            return picked
    return hint


def slice_start(*, run_id, now: datetime) -> datetime:
    """When the run's fair slice began: now, unless it gave its worker to a manual run in the
    middle of its slice (its claimed_at kept, its ready_at the moment it yielded). Then it goes on
    with what was left, so a Sync now does not hand a long run a fresh slice at every press."""
    ready_at, claimed_at = SyncRun.objects.filter(pk=run_id).values_list("ready_at", "claimed_at").get()
    return now - (ready_at - claimed_at) if claimed_at else now


def run_slot_waiting(run: SyncRun) -> bool:
    """A ready queued run whose connection has every slot taken: what the run page says it waits for."""
    if run.status != SyncRun.Status.QUEUED or run.waiting is not None:
        return False
    return SyncRun.objects.filter(connection_id=run.connection_id,
                                  status=SyncRun.Status.RUNNING).count() >= settings.SYNC_MAX_RUNS_PER_CONNECTION


def yield_reason(*, run: SyncRun, now: datetime) -> str | None:
    """Why the running `run` should give its worker back after this page, if it should.

    Only for runs that waited past SYNC_YIELD_AFTER_SECONDS: a free worker would have taken them
    by then, so every slot is busy.
    """
    patient = now - timedelta(seconds=settings.SYNC_YIELD_AFTER_SECONDS)
    waiting = runs_ready(now=now).filter(Q(not_before__isnull=True) | Q(not_before__lte=patient),
                                         ready_at__lte=patient)
    # A waiting run of this run's own connection can start once this one leaves, cap or not.
    startable = waiting.filter(Q(connection_id=run.connection_id) | ~Q(connection_id__in=connections_at_cap()))
    higher = list(startable.filter(priority__gt=run.priority).values_list("priority", flat=True)[:50])
    if higher and _yield_rank(run=run, above=max(higher)) < len(higher):
        return YIELD_TO_MANUAL if max(higher) >= Priority.MANUAL else YIELD_TO_OTHERS
    slice_start = now - timedelta(seconds=settings.SYNC_FAIR_SLICE_SECONDS)
    if not run.claimed_at or run.claimed_at > slice_start:
        return None
    peers = startable.filter(priority=run.priority).exclude(connection_id=run.connection_id)
    waiting_peers = len(peers.values_list("pk", flat=True)[:50])
    if waiting_peers and _slice_rank(run=run) < waiting_peers:
        return YIELD_TO_OTHERS
    return None


def _yield_rank(*, run: SyncRun, above: int) -> int:
    """How many running runs give way before this one: the lowest priority first, and of those
    the one holding its worker longest. N waiting runs take the worker of the first N, not all."""
    ahead = Q(priority__lt=run.priority) | Q(priority=run.priority, claimed_at__lt=run.claimed_at)
    return SyncRun.objects.filter(ahead, status=SyncRun.Status.RUNNING, priority__lt=above).count()


def _slice_rank(*, run: SyncRun) -> int:
    """How many runs of its priority have held their worker longer (so are past their slice too)."""
    return SyncRun.objects.filter(status=SyncRun.Status.RUNNING, priority=run.priority,
                                  claimed_at__lt=run.claimed_at).count()


def next_due_after(*, connection_id: uuid.UUID, interval_minutes: int, after: datetime) -> datetime:
    """The connection's next scheduled time: on its own grid, a stable offset into the interval
    (from its id), so a thousand connections are not all due at :00. At least half an interval
    after `after`, so a run that ended late does not run again at once."""
    interval = max(1, interval_minutes) * 60
    offset = uuid.UUID(str(connection_id)).int % interval
    earliest = after.timestamp() + interval / 2
    slots = -(-(earliest - offset) // interval)  # ceiling division
    return datetime.fromtimestamp(slots * interval + offset, tz=after.tzinfo or timezone.get_current_timezone())
