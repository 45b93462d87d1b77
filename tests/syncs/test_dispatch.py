"""Priority, the per-connection cap, yielding and the spread schedule, in this process
(syncs/dispatch.py). tests/syncs/test_dispatch_worker.py has the same through real workers."""

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from syncs import dispatch
from syncs.engine import run_execute
from syncs.models import Priority, SyncRun
from syncs.selectors import sync_run_payload
from syncs.services import sync_run_cancel, sync_trigger
from tests.syncs.factories import TEST_ACTOR, expected, queued_run, sandbox_connection, stored

pytestmark = pytest.mark.django_db


def only_run(conn, entity: str, *, priority: int, ready_ago: float = 0, **fields) -> SyncRun:
    run = queued_run(conn, entity)
    SyncRun.objects.filter(pk=run.pk).update(priority=priority,
                                             ready_at=timezone.now() - timedelta(seconds=ready_ago), **fields)
    run.refresh_from_db()
    return run


def test_it_starts_a_waiting_manual_run_instead_of_the_scheduled_one_named(django_capture_on_commit_callbacks):
    scheduled = only_run(sandbox_connection(name="A", entities=["vendors"]), "vendors",
                         priority=Priority.SCHEDULED, ready_ago=60)
    manual = only_run(sandbox_connection(name="B", entities=["vendors"]), "vendors", priority=Priority.MANUAL)
    with django_capture_on_commit_callbacks() as callbacks:
        assert run_execute(run_id=scheduled.pk).pk == manual.pk
    scheduled.refresh_from_db()
    assert scheduled.status == "queued", "the scheduled run still waits"
    assert len(callbacks) == 1, "and its message was sent again, since the manual run took it"
    assert run_execute(run_id=scheduled.pk).pk == scheduled.pk


def test_it_starts_the_named_run_among_equals_and_nothing_for_a_taken_one():
    first = only_run(sandbox_connection(name="A", entities=["vendors"]), "vendors",
                     priority=Priority.SCHEDULED, ready_ago=1)
    second = only_run(sandbox_connection(name="B", entities=["vendors"]), "vendors", priority=Priority.SCHEDULED)
    assert run_execute(run_id=second.pk).pk == second.pk
    assert run_execute(run_id=second.pk) is None, "a duplicate message does nothing"
    first.refresh_from_db()
    assert first.status == "queued"


def test_it_holds_a_run_back_while_its_connection_is_at_its_cap(settings):
    settings.SYNC_MAX_RUNS_PER_CONNECTION = 2
    conn = sandbox_connection(entities=["vendors", "assets", "locations"])
    SyncRun.objects.filter(connection=conn, entity__in=["vendors", "assets"]).update(status="running")
    third = queued_run(conn, "locations")
    assert dispatch.run_pick(hint=third.pk, now=timezone.now()) is None
    assert sync_run_payload(third)["waiting"] == {"reason": "waiting for a slot on this connection", "until": None}
    assert run_execute(run_id=third.pk) is None
    SyncRun.objects.filter(connection=conn, entity="assets").update(status="succeeded")
    assert sync_run_payload(third)["waiting"] is None
    assert run_execute(run_id=third.pk).status == "succeeded"


def test_it_yields_a_scheduled_run_to_a_manual_one_and_goes_on_with_exact_counts(settings):
    settings.SYNC_YIELD_AFTER_SECONDS = 0
    long_conn = sandbox_connection(name="Long", records=200, page_size=10, entities=["assets"],
                                   faults={"slow_page_seconds": 0.1})
    long_run = only_run(long_conn, "assets", priority=Priority.SCHEDULED, trigger="schedule")
    # Someone presses "Sync now" on another connection while the long run reads its pages.
    manual = only_run(sandbox_connection(name="Now", records=20, entities=["vendors"]), "vendors",
                      priority=Priority.MANUAL, not_before=timezone.now() + timedelta(seconds=0.3))

    assert run_execute(run_id=long_run.pk).pk == long_run.pk
    long_run.refresh_from_db()
    assert (long_run.status, long_run.yields) == ("queued", 1)
    assert 1 <= long_run.pages < 20 and long_run.fetched == long_run.created == long_run.pages * 10
    yielded = [e for e in long_run.timeline if e["event"] == "yielded"]
    assert [e["reason"] for e in yielded] == ["yielded to a manual sync"]
    assert long_run.claimed_at is not None, "what was left of its fair slice is kept for later"

    assert run_execute(run_id=long_run.pk).pk == manual.pk, "the manual run goes first"
    finished = run_execute(run_id=long_run.pk)
    assert (finished.pk, finished.status, finished.yields) == (long_run.pk, "succeeded", 1)
    assert (finished.pages, finished.fetched, finished.created, finished.updated) == (20, 200, 200, 0)
    assert "resumed" in [e["event"] for e in finished.timeline]
    assert stored(long_conn, "assets") == expected(long_conn, "assets")


def test_it_gives_way_only_after_the_wait_and_only_as_many_as_wait(settings, fixed_now):
    settings.SYNC_YIELD_AFTER_SECONDS = 2
    a = sandbox_connection(name="A", entities=["vendors"])
    b = sandbox_connection(name="B", entities=["vendors"])
    now = timezone.now()
    older = only_run(a, "vendors", priority=Priority.SCHEDULED, status="running", claimed_at=now - timedelta(minutes=5))
    newer = only_run(b, "vendors", priority=Priority.SCHEDULED, status="running", claimed_at=now - timedelta(minutes=1))
    manual = only_run(sandbox_connection(name="C", entities=["vendors"]), "vendors", priority=Priority.MANUAL)
    assert dispatch.yield_reason(run=older, now=now) is None, "a free worker may still take it"
    later = now + timedelta(seconds=3)
    assert dispatch.yield_reason(run=older, now=later) == dispatch.YIELD_TO_MANUAL
    assert dispatch.yield_reason(run=newer, now=later) is None, "one waiting run takes one worker"
    SyncRun.objects.filter(pk=manual.pk).update(status="cancelled")
    assert dispatch.yield_reason(run=older, now=later) is None
    assert dispatch.yield_reason(run=manual, now=later) is None


def test_it_shares_workers_across_connections_after_a_slice(settings, fixed_now):
    settings.SYNC_YIELD_AFTER_SECONDS, settings.SYNC_FAIR_SLICE_SECONDS = 2, 60
    long_conn = sandbox_connection(name="Long", entities=["assets", "vendors"])
    now = timezone.now()
    long_run = only_run(long_conn, "assets", priority=Priority.SCHEDULED, status="running",
                        claimed_at=now - timedelta(seconds=30))
    sibling = only_run(long_conn, "vendors", priority=Priority.SCHEDULED, ready_ago=10)
    assert dispatch.yield_reason(run=long_run, now=now + timedelta(seconds=40)) is None, (
        "a run of its own connection is no reason to share")
    only_run(sandbox_connection(name="Other", entities=["vendors"]), "vendors", priority=Priority.SCHEDULED,
             ready_ago=10)
    assert dispatch.yield_reason(run=long_run, now=now) is None, "still within its slice"
    assert dispatch.yield_reason(run=long_run, now=now + timedelta(seconds=40)) == dispatch.YIELD_TO_OTHERS
    SyncRun.objects.filter(pk=long_run.pk).update(priority=Priority.MANUAL)
    long_run.refresh_from_db()
    assert dispatch.yield_reason(run=long_run, now=now + timedelta(seconds=40)) is None, (
        "a manual run does not give way to scheduled ones")
    assert sibling.status == "queued"


def test_it_raises_a_waiting_scheduled_run_to_manual_when_someone_asks_for_it():
    conn = sandbox_connection(entities=["vendors"])
    run = only_run(conn, "vendors", priority=Priority.SCHEDULED, trigger="schedule")
    triggered = sync_trigger(connection=conn, entities=["vendors"], trigger="dashboard", requested_by="ops.anna")[0]
    run.refresh_from_db()
    assert (triggered.run.pk, triggered.created, run.priority) == (run.pk, False, Priority.MANUAL)
    assert sync_run_payload(run)["priority"] == "manual"
    assert run.timeline[-1]["event"] == "priority_raised"


def test_it_gives_manual_triggers_and_their_retries_manual_priority():
    conn = sandbox_connection(entities=["vendors"])
    sync_run_cancel(run=queued_run(conn, "vendors"), actor=TEST_ACTOR)
    scheduled = sync_trigger(connection=conn, entities=["vendors"], trigger="schedule")[0].run
    assert (scheduled.priority, sync_run_payload(scheduled)["priority"]) == (Priority.SCHEDULED, "scheduled")
    sync_run_cancel(run=scheduled, actor=TEST_ACTOR)
    for trigger in ("dashboard", "api", "cli", "retry"):
        run = sync_trigger(connection=conn, entities=["vendors"], trigger=trigger)[0].run
        assert run.priority == Priority.MANUAL, trigger
        sync_run_cancel(run=run, actor=TEST_ACTOR)


def test_it_spreads_due_times_over_the_interval_and_keeps_each_connections_offset():
    after = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
    ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"connection-{i}") for i in range(600)]
    due = [dispatch.next_due_after(connection_id=i, interval_minutes=60, after=after) for i in ids]
    assert all(after + timedelta(minutes=30) <= d < after + timedelta(minutes=90) for d in due)
    per_minute = Counter(d.replace(second=0, microsecond=0) for d in due)
    assert len(per_minute) == 60 and max(per_minute.values()) <= 25, "600 connections over 60 minutes, not at :00"
    for connection_id, first in zip(ids[:20], due[:20], strict=True):
        later = dispatch.next_due_after(connection_id=connection_id, interval_minutes=60,
                                        after=first + timedelta(seconds=7))
        assert later - first == timedelta(hours=1), "the same offset every interval"


def test_it_goes_on_with_what_was_left_of_its_slice_after_giving_way_to_a_manual_run(fixed_now):
    run = only_run(sandbox_connection(entities=["vendors"]), "vendors", priority=Priority.SCHEDULED)
    now = timezone.now()
    SyncRun.objects.filter(pk=run.pk).update(claimed_at=now - timedelta(seconds=50),
                                             ready_at=now - timedelta(seconds=30))
    assert dispatch.slice_start(run_id=run.pk, now=now) == now - timedelta(seconds=20), (
        "it had used 20 s of its slice when it yielded")
    SyncRun.objects.filter(pk=run.pk).update(claimed_at=None)
    assert dispatch.slice_start(run_id=run.pk, now=now) == now, "a fresh slice after a fair-share yield"


def test_it_gives_the_next_worker_back_to_a_run_that_gave_way_to_a_manual_one(django_capture_on_commit_callbacks):
    backlog = only_run(sandbox_connection(name="Backlog", entities=["vendors"]), "vendors",
                       priority=Priority.SCHEDULED, ready_ago=120)
    preempted = only_run(sandbox_connection(name="Long", entities=["vendors"]), "vendors",
                         priority=Priority.SCHEDULED, yields=1, claimed_at=timezone.now() - timedelta(seconds=40))
    with django_capture_on_commit_callbacks() as callbacks:
        assert run_execute(run_id=backlog.pk).pk == preempted.pk
    assert len(callbacks) == 1, "the backlog run's message is sent again"
    assert run_execute(run_id=backlog.pk).pk == backlog.pk


def test_it_ignores_a_message_sent_for_an_earlier_stay_in_the_queue():
    run = only_run(sandbox_connection(entities=["vendors"]), "vendors", priority=Priority.SCHEDULED)
    stale = run.ready_at - timedelta(minutes=3)
    assert run_execute(run_id=run.pk, ready_at=stale) is None
    run.refresh_from_db()
    assert run.status == "queued"
    assert run_execute(run_id=run.pk, ready_at=run.ready_at).status == "succeeded"


def test_it_starts_a_run_ready_well_before_the_named_one_first(settings):
    settings.SYNC_YIELD_AFTER_SECONDS = 2
    passed_over = only_run(sandbox_connection(name="Passed over", entities=["vendors"]), "vendors",
                           priority=Priority.SCHEDULED, ready_ago=40)
    named = only_run(sandbox_connection(name="Named", entities=["vendors"]), "vendors", priority=Priority.SCHEDULED)
    assert dispatch.run_pick(hint=named.pk, now=timezone.now()) == passed_over.pk
    SyncRun.objects.filter(pk=passed_over.pk).update(ready_at=named.ready_at - timedelta(seconds=1))
    assert dispatch.run_pick(hint=named.pk, now=timezone.now()) == named.pk, "about as old: the named run"
