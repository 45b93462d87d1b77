"""The machinery snapshot (syncs/machinery.py): workers, broker queue depths and why queued runs wait."""

import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from kombu import Connection as BrokerConnection

from syncs.machinery import broker_queue_depths, machinery_snapshot, queued_runs_summary, workers_seen
from syncs.models import SyncRun, WorkerHeartbeat
from tests.syncs.factories import bare_connection, run_row

pytestmark = pytest.mark.django_db

RUNNING, QUEUED = SyncRun.Status.RUNNING, SyncRun.Status.QUEUED


@pytest.fixture
def two_per_connection(settings):
    settings.SYNC_MAX_RUNS_PER_CONNECTION = 2


def saturated_connection(now, name: str = "Saturated"):
    """A connection already running its two runs."""
    conn = bare_connection(name)
    for entity in ("vendors", "assets"):
        run_row(conn, entity, status=RUNNING, started_at=now, claimed_at=now)
    return conn


def test_it_counts_the_runs_waiting_for_a_slot_on_their_connection(two_per_connection, fixed_now):
    full = saturated_connection(fixed_now)
    run_row(full, "work_orders", ready_at=fixed_now - timedelta(minutes=1))
    run_row(full, "purchase_orders", ready_at=fixed_now, not_before=fixed_now - timedelta(seconds=1))
    run_row(full, "items", not_before=fixed_now + timedelta(minutes=5))  # held back by time, not by the slot
    room = bare_connection("One running")
    run_row(room, "vendors", status=RUNNING)
    run_row(room, "assets")  # a slot is free: this one waits for a worker
    summary = queued_runs_summary(now=fixed_now)
    assert summary["waiting_for_slot"] == 2
    assert summary["queued"] == 4


def test_it_counts_the_queued_runs_that_yielded(fixed_now):
    conn = bare_connection()
    run_row(conn, "vendors", yields=2)
    run_row(conn, "assets", yields=0)
    run_row(conn, "items", status=RUNNING, yields=1)  # taken again: no longer a yielded run
    run_row(conn, "work_orders", status=SyncRun.Status.SUCCEEDED, yields=3)
    assert queued_runs_summary(now=fixed_now)["yielded"] == 1


def test_it_ages_the_oldest_ready_run_only(two_per_connection, fixed_now):
    run_row(saturated_connection(fixed_now), "items", ready_at=fixed_now - timedelta(minutes=30))
    other = bare_connection("Other")
    run_row(other, "vendors", ready_at=fixed_now - timedelta(minutes=40), not_before=fixed_now + timedelta(seconds=5))
    run_row(other, "assets", ready_at=fixed_now - timedelta(minutes=50), cancel_requested=True)
    # Ready for 100 s: it joined the queue long ago, but its backoff ended 100 s ago.
    run_row(other, "work_orders", ready_at=fixed_now - timedelta(minutes=20),
            not_before=fixed_now - timedelta(seconds=100))
    run_row(other, "items", ready_at=fixed_now - timedelta(seconds=250))
    snapshot = machinery_snapshot(now=fixed_now)
    assert snapshot.oldest_ready_seconds == 250
    assert snapshot.queued == 5


def test_it_measures_a_run_from_the_end_of_its_wait(fixed_now):
    run_row(bare_connection(), "vendors", ready_at=fixed_now - timedelta(hours=2),
            not_before=fixed_now - timedelta(seconds=42))
    assert machinery_snapshot(now=fixed_now).oldest_ready_seconds == 42


@pytest.mark.parametrize("waited, alert", [(299, False), (300, False), (301, True)])
def test_it_raises_the_alert_past_sync_queue_alert_seconds(settings, fixed_now, waited, alert):
    settings.SYNC_QUEUE_ALERT_SECONDS = 300
    run_row(bare_connection(), "vendors", ready_at=fixed_now - timedelta(seconds=waited))
    snapshot = machinery_snapshot(now=fixed_now)
    assert (snapshot.alert, snapshot.as_dict()["alert"]) == (alert, alert)


def test_it_raises_no_alert_when_no_run_is_ready(two_per_connection, fixed_now):
    run_row(saturated_connection(fixed_now), "items", ready_at=fixed_now - timedelta(hours=3))
    snapshot = machinery_snapshot(now=fixed_now)
    assert (snapshot.oldest_ready_seconds, snapshot.alert, snapshot.waiting_for_slot) == (None, False, 1)


def test_it_lists_the_workers_that_report_themselves(settings, fixed_now):
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = 60
    WorkerHeartbeat.objects.create(hostname="a@plant", seen_at=fixed_now - timedelta(seconds=5), concurrency=4, busy=3)
    WorkerHeartbeat.objects.create(hostname="b@plant", seen_at=fixed_now - timedelta(minutes=3), concurrency=8, busy=8)
    WorkerHeartbeat.objects.create(hostname="gone@plant", seen_at=fixed_now - timedelta(hours=2), concurrency=2, busy=0)
    WorkerHeartbeat.objects.create(hostname="plant", seen_at=fixed_now)  # the beat task's row: no pool size
    workers = workers_seen(now=fixed_now)
    assert [(w.hostname, w.alive, w.seen_seconds) for w in workers] == [("a@plant", True, 5), ("b@plant", False, 180)]
    snapshot = machinery_snapshot(now=fixed_now)
    assert (snapshot.alive_workers, snapshot.slots, snapshot.busy) == (1, 4, 3)


@pytest.fixture
def own_queue():
    """A queue of this test's own on the configured broker, with nothing consuming it."""
    name = f"machinery-test-{uuid.uuid4().hex[:8]}"
    with BrokerConnection(django_settings.CELERY_BROKER_URL,
                          transport_options=django_settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        queue = conn.SimpleQueue(name)
        yield name, queue
        queue.clear()
        queue.queue.delete()
        queue.queue.exchange.delete()
        queue.close()


def test_it_reads_the_queue_depth_on_the_configured_broker(own_queue):
    name, queue = own_queue
    never_declared = f"{name}-never"
    assert broker_queue_depths(queues=(name,)) == {name: 0}
    queue.put({"n": 1})
    queue.put({"n": 2})
    # A queue that does not exist first: the probe goes on to count the next one.
    assert broker_queue_depths(queues=(never_declared, name)) == {never_declared: 0, name: 2}
    queue.clear()
    assert broker_queue_depths(queues=(name,)) == {name: 0}


def test_it_reads_the_depth_of_the_queues_the_worker_consumes():
    assert set(broker_queue_depths()) == {"syncs", "webhooks", "celery"}
    assert all(isinstance(depth, int) for depth in broker_queue_depths().values())


def test_it_says_unknown_when_the_broker_is_down(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    assert broker_queue_depths() == {"syncs": None, "webhooks": None, "celery": None}
