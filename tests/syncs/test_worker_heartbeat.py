"""The worker's own heartbeat (syncs/worker_heartbeat.py), written by a real worker process."""

import pytest

from syncs.models import SyncRun, WorkerHeartbeat
from syncs.services import sync_run_cancel
from syncs.worker_heartbeat import HEARTBEAT_SECONDS
from tests.conftest import wait_for
from tests.syncs.factories import TEST_ACTOR, sandbox_connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def own_row(prefix: str, **where):
    # The node name is "<name>-<pid>-<ns>@<host>" (tests/worker.py); the beat task's row is the bare host.
    return lambda: WorkerHeartbeat.objects.filter(hostname__startswith=f"{prefix}-", **where).first()


def test_it_reports_the_pool_size_of_the_worker(celery_worker_process):
    # The row of the module's worker may have gone with the previous test's database flush:
    # the next beat, at most HEARTBEAT_SECONDS away, writes it again.
    row = wait_for(own_row("session"), timeout=HEARTBEAT_SECONDS * 3, message="the worker's heartbeat")
    assert (row.concurrency, row.busy) == (2, 0)
    assert row.hostname.startswith("session-") and "@" in row.hostname


def test_it_counts_the_busy_slots(celery_worker_process):
    conn = sandbox_connection(records=2000, page_size=10, entities=["assets"], faults={"slow_page_seconds": 0.2})
    run = SyncRun.objects.get(connection=conn)
    wait_for(lambda: SyncRun.objects.filter(pk=run.pk, status="running").exists(), message="the run to start")
    row = wait_for(own_row("session", busy=1), timeout=HEARTBEAT_SECONDS * 3, message="a busy slot")
    assert row.concurrency == 2
    sync_run_cancel(run=run, actor=TEST_ACTOR)
    wait_for(lambda: not SyncRun.objects.get(pk=run.pk).is_active, message="the cancel")
    assert wait_for(own_row("session", busy=0), timeout=HEARTBEAT_SECONDS * 3, message="the slot freed")


def test_it_removes_the_row_when_the_worker_stops(worker_factory):
    worker = worker_factory(name="stopping", concurrency=3, queues="machinery-idle")
    row = wait_for(own_row("stopping"), timeout=30, message="the heartbeat at start")
    assert row.concurrency == 3
    worker.stop()
    assert not WorkerHeartbeat.objects.filter(hostname=row.hostname).exists()
    assert "worker heartbeat not written" not in worker.output()
