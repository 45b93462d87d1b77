"""Seeing the machinery: the workers, the broker's queues and why queued runs wait.

One snapshot for the overview and /healthz (docs/architecture.md, "Seeing the machinery"): two
queries (the worker heartbeats; one aggregate over the queued runs) and one short-lived broker
connection for the queue depths.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, DateTimeField, Min, Q
from django.db.models.functions import Coalesce, Greatest
from kombu import Connection as BrokerConnection
from kombu.exceptions import OperationalError as KombuOperationalError

from syncs.dispatch import connections_at_cap
from syncs.models import SyncRun, WorkerHeartbeat

logger = logging.getLogger(__name__)

# The queues the worker consumes (Procfile): long syncs, webhook deliveries, everything else.
QUEUES = ("syncs", "webhooks", "celery")
# Workers that went quiet longer ago than this are no longer listed: a crashed worker never
# removes its row, and after an hour it says nothing a person needs.
WORKER_LIST_WINDOW = timedelta(hours=1)
# The broker may be down: a probe gives up quickly and says "unknown" instead of holding a page.
BROKER_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Worker:
    hostname: str
    seen_at: datetime
    seen_seconds: float
    concurrency: int
    busy: int
    alive: bool


@dataclass(frozen=True)
class Machinery:
    workers: list[Worker]
    slots: int  # pool slots of the alive workers
    busy: int  # of which running a task
    # Messages waiting on the broker per queue; None when the broker could not be asked.
    queue_depths: dict[str, int | None]
    queued: int
    oldest_ready_seconds: float | None
    waiting_for_slot: int
    yielded: int
    alert_seconds: int

    @property
    def alive_workers(self) -> int:
        return sum(1 for w in self.workers if w.alive)

    @property
    def alert(self) -> bool:
        """The oldest ready run has waited past SYNC_QUEUE_ALERT_SECONDS: the pool is dead or starved."""
        return self.oldest_ready_seconds is not None and self.oldest_ready_seconds > self.alert_seconds

    def as_dict(self) -> dict:
        return {
            "workers": [{"hostname": w.hostname, "seen_seconds": round(w.seen_seconds, 1), "alive": w.alive,
                         "concurrency": w.concurrency, "busy": w.busy} for w in self.workers],
            "slots": self.slots, "busy": self.busy, "queue_depths": self.queue_depths, "queued": self.queued,
            "oldest_ready_seconds": None if self.oldest_ready_seconds is None else round(self.oldest_ready_seconds, 1),
            "waiting_for_slot": self.waiting_for_slot, "yielded": self.yielded,
            "alert_seconds": self.alert_seconds, "alert": self.alert,
        }


def machinery_snapshot(*, now: datetime) -> Machinery:
    workers = workers_seen(now=now)
    alive = [w for w in workers if w.alive]
    runs = queued_runs_summary(now=now)
    return Machinery(
        workers=workers, slots=sum(w.concurrency for w in alive), busy=sum(w.busy for w in alive),
        queue_depths=broker_queue_depths(),
        queued=runs["queued"], waiting_for_slot=runs["waiting_for_slot"], yielded=runs["yielded"],
        # Not below 0: a run may join the queue between `now` and the query.
        oldest_ready_seconds=None if runs["oldest_ready"] is None
        else max(0.0, (now - runs["oldest_ready"]).total_seconds()),
        alert_seconds=settings.SYNC_QUEUE_ALERT_SECONDS,
    )


def workers_seen(*, now: datetime) -> list[Worker]:
    """The workers that report themselves (the bootstep's rows; the beat task's carry no pool size)."""
    max_age = settings.HEALTH_WORKER_MAX_AGE_SECONDS
    rows = WorkerHeartbeat.objects.filter(concurrency__isnull=False, seen_at__gte=now - WORKER_LIST_WINDOW)
    workers = []
    for row in rows.order_by("hostname"):
        seen = max(0.0, (now - row.seen_at).total_seconds())
        workers.append(Worker(hostname=row.hostname, seen_at=row.seen_at, seen_seconds=seen,
                              concurrency=row.concurrency, busy=row.busy or 0, alive=seen <= max_age))
    return workers


def queued_runs_summary(*, now: datetime) -> dict:
    """In one query over the queued runs (found by index on their status): how many, how many wait
    for a slot on their connection, how many yielded, and since when the oldest ready one waits.

    Ready: queued, not being cancelled, not held back (not_before null or past) and not waiting for
    a slot; it waits since the later of ready_at and not_before. A run waits for a slot when its
    connection already runs SYNC_MAX_RUNS_PER_CONNECTION runs: no worker may take it, so its wait
    says nothing about the pool."""
    saturated = connections_at_cap()
    due = Q(not_before__isnull=True) | Q(not_before__lte=now)
    on_saturated = Q(connection_id__in=saturated)
    waits_since = Greatest("ready_at", Coalesce("not_before", "ready_at"), output_field=DateTimeField())
    return SyncRun.objects.filter(status=SyncRun.Status.QUEUED).aggregate(
        queued=Count("id"),
        waiting_for_slot=Count("id", filter=due & on_saturated),
        yielded=Count("id", filter=Q(yields__gt=0)),
        oldest_ready=Min(waits_since, filter=due & Q(cancel_requested=False) & ~on_saturated),
    )


def broker_queue_depths(*, queues: tuple[str, ...] = QUEUES) -> dict[str, int | None]:
    """Messages ready on the broker per queue, by a passive queue_declare (its message_count): the
    same call on Redis and on the filesystem broker. None for every queue when the broker is down."""
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS,
               "socket_timeout": BROKER_TIMEOUT_SECONDS, "socket_connect_timeout": BROKER_TIMEOUT_SECONDS}
    conn = BrokerConnection(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS,
                            transport_options=options)
    try:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
        return _queue_depths(conn, queues)
    except (OSError, KombuOperationalError, *conn.connection_errors) as exc:
        logger.debug("queue depths unknown, the broker did not answer: %s", exc)
        return dict.fromkeys(queues)
    finally:
        conn.release()


def _queue_depths(conn: BrokerConnection, queues: tuple[str, ...]) -> dict[str, int]:
    # One channel for every queue: on Redis a channel is a connection of its own, the dearest part
    # of the probe. A refused passive declare leaves a virtual transport's channel usable.
    channel, depths = conn.default_channel, {}
    for queue in queues:
        try:
            depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
        except conn.channel_errors:
            # Redis keeps no empty list: a queue with no message waiting "does not exist".
            depths[queue] = 0
    return depths
