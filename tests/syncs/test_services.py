from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import CatalogError
from core.models import AuditEvent
from syncs.engine import run_execute
from syncs.lifecycle import connection_pause, connection_resume
from syncs.machinery import broker_queue_depths
from syncs.models import SyncRun, SyncState
from syncs.services import sync_run_cancel, sync_trigger, syncs_reap, syncs_schedule_due
from tests.syncs.factories import TEST_ACTOR, queued_run, sandbox_connection
from tests.worker import broker_purge

pytestmark = pytest.mark.django_db


def test_it_queues_the_initial_full_sync_for_every_entity_on_creation():
    conn = sandbox_connection(entities=["vendors", "assets"])
    runs = SyncRun.objects.filter(connection=conn)
    assert sorted(runs.values_list("entity", "mode", "status")) == [
        ("assets", "full", "queued"), ("vendors", "full", "queued")]
    assert conn.status == "active" and conn.token_prefix.startswith("ctk_")
    assert AuditEvent.objects.filter(action="connection.created", connection=conn).exists()


def test_it_refuses_bad_config_with_field_details():
    with pytest.raises(CatalogError) as exc:
        sandbox_connection(records="many", bogus=1)
    assert exc.value.code == "VALIDATION_FAILED"
    assert set(exc.value.details["fields"]) == {"config.records", "config.bogus"}


def test_it_refuses_bad_credentials_at_creation():
    with pytest.raises(CatalogError) as exc:
        sandbox_connection(faults={"auth_failure": True})
    assert exc.value.code == "UPSTREAM_AUTHENTICATION_FAILED"


def test_it_returns_the_active_run_to_a_second_trigger():
    conn = sandbox_connection(entities=["vendors"])
    full = queued_run(conn, "vendors")
    again = sync_trigger(connection=conn, entities=["vendors"], mode="full", trigger="api")
    assert (again[0].run.pk, again[0].created) == (full.pk, False)
    incremental = sync_trigger(connection=conn, entities=["vendors"], mode="incremental", trigger="api")
    assert (incremental[0].run.pk, incremental[0].created) == (full.pk, False), "the full run covers it"


def test_it_refuses_a_full_resync_over_an_active_incremental_run():
    conn = sandbox_connection(entities=["vendors"])
    run_execute(run_id=queued_run(conn, "vendors").pk)
    incremental = sync_trigger(connection=conn, entities=["vendors"], trigger="api")[0]
    assert incremental.created
    with pytest.raises(CatalogError) as exc:
        sync_trigger(connection=conn, entities=["vendors"], mode="full", trigger="api")
    assert exc.value.code == "SYNC_IN_PROGRESS" and exc.value.details["run_ids"] == [str(incremental.run.pk)]


def test_it_refuses_unknown_entities():
    conn = sandbox_connection(entities=["vendors"])
    with pytest.raises(CatalogError) as exc:
        sync_trigger(connection=conn, entities=["assets"], trigger="api")
    assert exc.value.code == "VALIDATION_FAILED"


def test_it_cancels_a_queued_run_at_once():
    conn = sandbox_connection(entities=["vendors"])
    run = sync_run_cancel(run=queued_run(conn, "vendors"), actor=TEST_ACTOR)
    assert run.status == "cancelled" and run.error_code == "SYNC_CANCELLED"
    assert AuditEvent.objects.filter(action="sync.cancel_requested", target_id=str(run.pk)).exists()


def test_it_asks_a_running_run_to_stop():
    conn = sandbox_connection(entities=["vendors"])
    run = queued_run(conn, "vendors")
    SyncRun.objects.filter(pk=run.pk).update(status="running")
    run = sync_run_cancel(run=run, actor=TEST_ACTOR)
    assert run.status == "running" and run.cancel_requested


def test_it_cancels_queued_runs_on_pause_and_stops_scheduling():
    conn = sandbox_connection(entities=["vendors", "assets"])
    connection_pause(connection=conn, actor=TEST_ACTOR)
    assert set(SyncRun.objects.filter(connection=conn).values_list("status", flat=True)) == {"cancelled"}
    SyncState.objects.filter(connection=conn).update(next_due_at=timezone.now() - timedelta(minutes=1))
    assert syncs_schedule_due() == []
    with pytest.raises(CatalogError) as exc:
        sync_trigger(connection=conn, trigger="dashboard")
    assert exc.value.code == "CONNECTION_NOT_ACTIVE"

    connection_resume(connection=conn, actor=TEST_ACTOR)
    conn.refresh_from_db()
    assert conn.status == "active"
    assert {t.run.entity for t in syncs_schedule_due()} == {"vendors", "assets"}


def test_it_schedules_due_states_once():
    conn = sandbox_connection(entities=["vendors"])
    run_execute(run_id=queued_run(conn, "vendors").pk)
    assert syncs_schedule_due() == [], "not due yet"
    SyncState.objects.filter(connection=conn).update(next_due_at=timezone.now() - timedelta(seconds=1))
    first = syncs_schedule_due()
    assert [(t.run.trigger, t.run.mode, t.created) for t in first] == [("schedule", "incremental", True)]
    assert syncs_schedule_due() == [], "pushed forward while it runs"


def test_it_reaps_a_stalled_run_and_resumes_it(settings):
    settings.SYNC_AUTO_RETRIES = 5  # the reaper resumes a stalled run through its automatic retry
    conn = sandbox_connection(entities=["vendors"], records=30)
    run = queued_run(conn, "vendors")
    checkpoint = {"reader": {"next": 10, "page": 1}, "marker": str(run.pk), "window_end": timezone.now().isoformat()}
    SyncRun.objects.filter(pk=run.pk).update(status="running", checkpoint=checkpoint, pages=1, fetched=10,
                                             heartbeat_at=timezone.now() - timedelta(seconds=700))
    result = syncs_reap()
    run.refresh_from_db()
    assert run.status == "failed" and run.error_code == "SYNC_STALLED"
    retry = SyncRun.objects.get(pk=result["resumed"][0])
    assert (retry.status, retry.trigger, retry.resumed_from_id) == ("queued", "retry", run.pk)
    assert retry.checkpoint == checkpoint


def test_it_leaves_a_run_with_a_fresh_heartbeat_alone():
    conn = sandbox_connection(entities=["vendors"])
    run = queued_run(conn, "vendors")
    SyncRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=timezone.now())
    assert syncs_reap()["reaped"] == []


def test_it_resends_a_queued_run_whose_message_was_lost(settings, django_capture_on_commit_callbacks):
    conn = sandbox_connection(entities=["vendors"])
    run = queued_run(conn, "vendors")
    SyncRun.objects.filter(pk=run.pk).update(ready_at=timezone.now() - timedelta(seconds=400))
    broker_purge()  # the broker lost its message (and any other test's)
    with django_capture_on_commit_callbacks(execute=True):
        assert syncs_reap()["resent"] == [str(run.pk)]
    assert broker_queue_depths(queues=("syncs",)) == {"syncs": 1}
    with django_capture_on_commit_callbacks(execute=True):
        assert syncs_reap()["resent"] == [], "the broker holds a message for every ready run again"
    broker_purge()
