"""Priority, fair shares, the per-connection cap and the spread schedule through real Celery
workers on the configured broker and database (Redis and PostgreSQL in CI, the filesystem
broker and SQLite by default)."""

import time

import pytest
from django.utils import timezone

from syncs.dispatch import SLOT_WAIT, YIELD_TO_MANUAL, YIELD_TO_OTHERS, next_due_after
from syncs.models import Priority, SyncRun, SyncState
from syncs.selectors import sync_run_payload
from syncs.services import sync_run_cancel, sync_trigger, syncs_schedule_due
from tests.conftest import wait_for
from tests.syncs.factories import TEST_ACTOR, expected, queued_run, sandbox_connection, stored
from tests.worker import broker_purge

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def long_connection(name: str, *, records: int = 300, page_size: int = 10, slow: float = 0.1):
    """A connection whose initial full run of assets is queued as a scheduled one and reads slowly."""
    conn = sandbox_connection(name=name, records=records, page_size=page_size, entities=["assets"],
                              faults={"slow_page_seconds": slow})
    SyncRun.objects.filter(connection=conn).update(priority=Priority.SCHEDULED, trigger="schedule")
    return conn, queued_run(conn, "assets")


def idle_connection(name: str, *, entities=("vendors",), records: int = 20):
    """A connection with nothing queued (its initial runs cancelled), for a trigger later on."""
    conn = sandbox_connection(name=name, records=records, entities=list(entities))
    for run in SyncRun.objects.filter(connection=conn, status="queued"):
        sync_run_cancel(run=run, actor=TEST_ACTOR)
    return conn


def finished(*run_ids):
    def check():
        runs = list(SyncRun.objects.filter(pk__in=run_ids))
        return runs if all(r.status not in SyncRun.ACTIVE_STATUSES for r in runs) else None
    return check


def assert_exact(run: SyncRun, conn, *, records: int, pages: int) -> None:
    assert (run.status, run.pages, run.fetched, run.created, run.updated, run.deleted) == (
        "succeeded", pages, records, records, 0, 0)
    assert stored(conn, "assets") == expected(conn, "assets")


def test_it_gives_a_scheduled_runs_worker_to_sync_now_and_resumes_it_exactly(worker_factory):
    broker_purge()
    conn, long_run = long_connection("Long")
    now_conn = idle_connection("Customer on the phone")
    worker_factory(concurrency=1, name="yield", env={"SYNC_YIELD_AFTER_SECONDS": "0.5"})
    wait_for(lambda: SyncRun.objects.filter(pk=long_run.pk, status="running", pages__gte=3).exists(),
             message="the long run under way")
    pressed = time.monotonic()
    manual = sync_trigger(connection=now_conn, trigger="dashboard", requested_by="ops.anna")[0].run
    assert manual.priority == Priority.MANUAL
    wait_for(lambda: SyncRun.objects.filter(pk=manual.pk, status="succeeded").exists(), timeout=60,
             message="the manual run")
    waited = time.monotonic() - pressed
    long_run.refresh_from_db()
    assert long_run.status in SyncRun.ACTIVE_STATUSES, "the manual run did not wait for the long one to end"
    assert waited < 20
    (long_run,) = wait_for(finished(long_run.pk), timeout=120, message="the long run")
    assert long_run.yields >= 1
    assert YIELD_TO_MANUAL in [e.get("reason") for e in long_run.timeline if e["event"] == "yielded"]
    assert_exact(long_run, conn, records=300, pages=30)


def test_it_interleaves_connections_once_a_run_has_had_its_slice(worker_factory):
    broker_purge()
    conn, long_run = long_connection("Initial load")
    other = idle_connection("Hourly")
    worker_factory(concurrency=1, name="fair", env={"SYNC_YIELD_AFTER_SECONDS": "0.5",
                                                    "SYNC_FAIR_SLICE_SECONDS": "1"})
    wait_for(lambda: SyncRun.objects.filter(pk=long_run.pk, status="running", pages__gte=3).exists(),
             message="the long run under way")
    scheduled = sync_trigger(connection=other, trigger="schedule")[0].run
    assert scheduled.priority == Priority.SCHEDULED
    (scheduled,) = wait_for(finished(scheduled.pk), timeout=60, message="the other connection's run")
    assert scheduled.status == "succeeded"
    long_run.refresh_from_db()
    assert long_run.status in SyncRun.ACTIVE_STATUSES, "it ran between the long run's pages"
    (long_run,) = wait_for(finished(long_run.pk), timeout=120, message="the long run")
    assert YIELD_TO_OTHERS in [e.get("reason") for e in long_run.timeline if e["event"] == "yielded"]
    assert_exact(long_run, conn, records=300, pages=30)


def test_it_never_runs_more_of_one_connection_than_its_cap(worker_factory):
    broker_purge()
    entities = ["assets", "vendors", "locations", "inventory_items"]
    busy = sandbox_connection(name="Six entities", records=40, page_size=10, entities=entities,
                              faults={"slow_page_seconds": 0.4})
    other = sandbox_connection(name="Another customer", records=40, page_size=10, entities=["assets"],
                               faults={"slow_page_seconds": 0.4})
    runs = list(SyncRun.objects.filter(connection__in=[busy, other]).values_list("pk", flat=True))
    worker_factory(concurrency=4, name="cap", env={"SYNC_MAX_RUNS_PER_CONNECTION": "2",
                                                   "SYNC_FAIR_SLICE_SECONDS": "600"})
    most_of_busy, most_at_once, slot_waits = 0, 0, set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = list(SyncRun.objects.filter(status="running").values_list("connection_id", flat=True))
        most_of_busy = max(most_of_busy, running.count(busy.pk))
        most_at_once = max(most_at_once, len(running))
        for run in SyncRun.objects.filter(connection=busy, status="queued"):
            if (sync_run_payload(run)["waiting"] or {}).get("reason") == SLOT_WAIT:
                slot_waits.add(run.pk)
        if finished(*runs)():
            break
        time.sleep(0.05)
    assert finished(*runs)(), "every run ended"
    assert set(SyncRun.objects.filter(pk__in=runs).values_list("status", flat=True)) == {"succeeded"}
    assert most_of_busy == 2, f"at most the cap of one connection at once (saw {most_of_busy})"
    assert most_at_once == 3, "the other connection used a free worker meanwhile"
    assert slot_waits, "runs held back said they were waiting for a slot"


def test_it_schedules_each_connection_on_its_own_offset(worker_factory):
    broker_purge()
    conns = [idle_connection(f"Spread {i}") for i in range(3)]
    SyncState.objects.filter(connection__in=conns).update(next_due_at=timezone.now())
    worker_factory(concurrency=2, name="spread")
    runs = [t.run.pk for t in syncs_schedule_due()]
    assert len(runs) == 3
    wait_for(finished(*runs), timeout=60, message="the scheduled runs")
    for conn in conns:
        state = SyncState.objects.get(connection=conn)
        assert state.last_run.status == "succeeded"
        due = state.next_due_at
        assert due == next_due_after(connection_id=conn.pk, interval_minutes=conn.sync_interval_minutes,
                                     after=state.last_success_at)
        interval = conn.sync_interval_minutes * 60
        assert due.timestamp() % interval == conn.pk.int % interval, "its own place in the hour, from its id"
