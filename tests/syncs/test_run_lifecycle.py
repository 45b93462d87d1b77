"""A run's life past the happy path: leases, automatic retries, waits that give the worker back,
and failures after the last page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.connectors.sandbox import SandboxConnector
from connections.models import Connection
from core.errors import CatalogError
from syncs import outcomes
from syncs.engine import RunExecution, run_claim, run_execute
from syncs.models import Incident, Record, SyncRun
from syncs.runs import RunLost
from syncs.selectors import sync_run_payload
from syncs.services import sync_trigger, syncs_reap
from tests.syncs.factories import expected, queued_run, sandbox_connection, stored
from tests.worker import broker_purge

pytestmark = pytest.mark.django_db


@pytest.fixture
def auto_retries(settings):
    settings.SYNC_AUTO_RETRIES = 5  # the shipped default; the test settings turn them off


def config_set(connection, **changes) -> None:
    Connection.objects.filter(pk=connection.pk).update(config={**connection.config, **changes})
    connection.refresh_from_db()


def make_due(run: SyncRun) -> None:
    SyncRun.objects.filter(pk=run.pk).update(not_before=timezone.now() - timedelta(seconds=1))


# --- leases ------------------------------------------------------------------------------------

def test_it_keeps_a_reaped_run_failed_when_its_old_worker_finishes(settings, auto_retries):
    conn = sandbox_connection(records=30, page_size=10, entities=["vendors"])
    run, lease = run_claim(run_id=queued_run(conn, "vendors").pk)
    execution = RunExecution(run, lease=lease)
    # The worker goes quiet long enough for the reaper to fail the run and queue its retry.
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    reaped = syncs_reap()
    assert reaped["reaped"] == [str(run.pk)] and len(reaped["resumed"]) == 1

    with pytest.raises(RunLost):
        execution.execute()  # the old worker wakes up and carries on
    run.refresh_from_db()
    assert run.status == "failed" and run.error_code == "SYNC_STALLED" and run.pages == 0
    assert Record.objects.filter(connection=conn).count() == 0, "its page rolled back"
    assert SyncRun.objects.get(pk=reaped["resumed"][0]).status == "queued"


def test_it_refuses_to_finish_a_run_for_a_worker_without_its_lease():
    conn = sandbox_connection(records=10, entities=["vendors"])
    run, lease = run_claim(run_id=queued_run(conn, "vendors").pk)
    execution = RunExecution(run, lease=lease)
    execution.read_and_write()
    # Requeued (a time limit, a long Retry-After) and claimed again by another worker.
    outcomes.run_requeue(run=run, lease=lease, reason="test")
    run_claim(run_id=run.pk)
    with pytest.raises(RunLost):
        execution.execute()
    run.refresh_from_db()
    assert run.status == "running", "the new owner's run, untouched"
    assert not outcomes.run_finish_failed(run=run, lease=lease, error=CatalogError("INTERNAL_ERROR")).failed


# --- automatic retries -------------------------------------------------------------------------

def test_it_retries_a_retryable_failure_a_bounded_number_of_times_with_backoff(settings):
    settings.SYNC_PAGE_RETRIES, settings.SYNC_AUTO_RETRIES, settings.SYNC_AUTO_RETRY_BASE_SECONDS = 0, 2, 30
    conn = sandbox_connection(records=20, page_size=10, entities=["vendors"],
                              faults={"server_error_every": 2, "server_error_persistent": True})
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    waits = []
    for attempt in (2, 3):
        retry = SyncRun.objects.get(connection=conn, entity="vendors", status="queued")
        assert (retry.attempt, retry.trigger, retry.resumed_from_id) == (attempt, "retry", run.pk)
        waits.append(round((retry.not_before - run.finished_at).total_seconds()))
        assert run_execute(run_id=retry.pk) is None, "not before its backoff is over"
        make_due(retry)
        run = run_execute(run_id=retry.pk)
        assert run.status == "failed" and run.error_code == "UPSTREAM_SERVER_ERROR"
        assert (run.pages, run.fetched) == (1, 10), "each retry goes on from the checkpoint"
    assert waits == [30, 60]
    assert not SyncRun.objects.filter(connection=conn, status="queued").exists(), "then it stays failed"
    assert Incident.objects.get(connection=conn, entity="vendors", status="open").occurrences == 3


def test_it_does_not_retry_what_would_fail_the_same_way():
    conn = sandbox_connection(records=10, entities=["vendors"], faults={"auth_failure": True}, verify=False)
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run.error_code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert not SyncRun.objects.filter(connection=conn, status="queued").exists()


def test_it_finishes_without_reading_again_after_a_failure_past_the_last_page(monkeypatch, auto_retries):
    conn = sandbox_connection(records=30, page_size=10, entities=["vendors"])
    real = outcomes.deletions_mark

    def fails_once(**kwargs):
        monkeypatch.setattr(outcomes, "deletions_mark", real)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(outcomes, "deletions_mark", fails_once)
    first = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert first.status == "failed" and first.error_code == "INTERNAL_ERROR" and first.pages == 3
    assert first.checkpoint["done"] is True

    fetched = []
    monkeypatch.setattr(SandboxConnector, "fetch_page", lambda self, request: fetched.append(request))
    retry = run_execute(run_id=SyncRun.objects.get(connection=conn, status="queued").pk)
    assert retry.status == "succeeded" and retry.resumed_from_id == first.pk
    assert fetched == [], "not one page read again"
    assert (retry.pages, retry.fetched, retry.created) == (3, 30, 30)
    assert stored(conn, "vendors") == expected(conn, "vendors")


# --- upstream calls and waits -------------------------------------------------------------------

def test_it_retries_the_credential_check_like_a_page():
    conn = sandbox_connection(records=10, entities=["vendors"])
    config_set(conn, faults={"check_server_error": True})
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run.status == "succeeded", run.error_message
    assert [(e["event"], e["code"]) for e in run.timeline if e["event"] == "retry"] == [
        ("retry", "UPSTREAM_SERVER_ERROR")]


def test_it_gives_the_worker_back_when_the_upstream_asks_for_a_long_wait(settings):
    settings.SYNC_MAX_SLEEP_SECONDS = 5
    conn = sandbox_connection(records=40, page_size=10, entities=["vendors"],
                              faults={"rate_limit_every": 3, "retry_after": 900})
    before = timezone.now()
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run.status == "queued" and run.pages == 2, "pages 1-2 kept, page 3 waits"
    assert run.wait_reason == "rate limited" and run.lease is None
    assert before + timedelta(seconds=900) <= run.not_before <= timezone.now() + timedelta(seconds=900)
    assert run.timeline[-1]["event"] == "requeued" and "UPSTREAM_RATE_LIMITED" in run.timeline[-1]["reason"]
    assert sync_run_payload(run)["waiting"] == {"reason": "rate limited", "until": run.not_before.isoformat()}
    assert run_execute(run_id=run.pk) is None, "a message that comes early is dropped"

    config_set(conn, faults={})
    make_due(run)
    run = run_execute(run_id=run.pk)
    assert run.status == "succeeded" and run.waiting is None
    assert (run.pages, run.fetched, run.created) == (4, 40, 40), "the counts carry on"
    assert stored(conn, "vendors") == expected(conn, "vendors")


def test_it_resends_a_waiting_run_only_once_its_wait_is_over(settings):
    settings.SYNC_QUEUED_RESEND_SECONDS = 60
    conn = sandbox_connection(records=10, entities=["vendors"])
    run = queued_run(conn, "vendors")
    long_ago = timezone.now() - timedelta(hours=1)
    SyncRun.objects.filter(pk=run.pk).update(queued_at=long_ago, ready_at=long_ago, heartbeat_at=long_ago,
                                             not_before=timezone.now() + timedelta(minutes=5))
    broker_purge()
    assert syncs_reap()["resent"] == []
    SyncRun.objects.filter(pk=run.pk).update(not_before=timezone.now() - timedelta(minutes=5))
    assert syncs_reap()["resent"] == [str(run.pk)]


def test_it_starts_a_waiting_retry_at_once_when_someone_asks_for_a_sync(settings, auto_retries):
    settings.SYNC_PAGE_RETRIES, settings.SYNC_AUTO_RETRY_BASE_SECONDS = 0, 300
    conn = sandbox_connection(records=10, entities=["vendors"], faults={"unreachable": True}, verify=False)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    retry = SyncRun.objects.get(connection=conn, status="queued")
    assert retry.waiting and retry.waiting["reason"].startswith("automatic retry 1 of 5")
    assert sync_trigger(connection=conn, entities=["vendors"], trigger="schedule")[0].run.waiting, (
        "the scheduler leaves the backoff alone")
    config_set(conn, faults={})
    triggered = sync_trigger(connection=conn, entities=["vendors"], trigger="dashboard", requested_by="ops.anna")[0]
    assert (triggered.run.pk, triggered.created, triggered.run.waiting) == (retry.pk, False, None)
    assert run_execute(run_id=retry.pk).status == "succeeded"


def test_it_keeps_a_wait_the_upstream_asked_for_when_someone_asks_for_a_sync(settings):
    settings.SYNC_MAX_SLEEP_SECONDS = 5
    conn = sandbox_connection(records=30, page_size=10, entities=["vendors"],
                              faults={"rate_limit_every": 2, "retry_after": 900})
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    triggered = sync_trigger(connection=conn, entities=["vendors"], trigger="api")[0]
    assert triggered.run.pk == run.pk and triggered.run.waiting["reason"] == "rate limited"
