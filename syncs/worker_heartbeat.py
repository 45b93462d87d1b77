"""The worker's own heartbeat: its node name, pool size and busy slots, every few seconds.

A bootstep of the worker's main process (registered by name in config/celery.py), so the row is
written even while every pool slot is busy with a long sync, which the beat-scheduled
worker_heartbeat_task cannot promise. The overview and /healthz read these rows
(docs/architecture.md, "Seeing the machinery").

Models are imported inside the methods: config.celery loads before Django's apps are ready.
"""

import logging

from celery import bootsteps
from celery.worker import state as worker_state
from django.db import DatabaseError, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0


class WorkerHeartbeatStep(bootsteps.StartStopStep):
    """Writes the heartbeat at start and then every HEARTBEAT_SECONDS on the worker's timer (in the
    main process, never in a pool child); removes the row at a clean stop."""

    requires = ("celery.worker.components:Timer",)

    def create(self, worker):
        return Heartbeat(worker)


class Heartbeat:
    def __init__(self, worker):
        self.worker = worker
        self.tref = None

    def start(self) -> None:
        self.beat()
        self.tref = self.worker.timer.call_repeatedly(HEARTBEAT_SECONDS, self.beat, priority=10)

    def stop(self) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        self._write(lambda model: model.objects.filter(hostname=self.worker.hostname).delete())

    terminate = stop

    def beat(self) -> None:
        # The main process accepts every task its pool runs, so its active requests are the busy slots.
        values = {"seen_at": timezone.now(), "concurrency": self.worker.concurrency,
                  "busy": len(worker_state.active_requests)}
        self._write(lambda model: model.objects.update_or_create(hostname=self.worker.hostname, defaults=values))

    def _write(self, write) -> None:
        from syncs.models import WorkerHeartbeat

        try:
            write(WorkerHeartbeat)
        except DatabaseError as exc:
            # A database that is down for a moment must not stop the worker; the row goes stale,
            # which is what /healthz and the overview then report.
            logger.warning("worker heartbeat not written: %s", exc)
        finally:
            # The main process forks pool children (at start, and again to replace one): a child
            # must never inherit an open database connection, and an idle one would only go stale.
            connection.close()
