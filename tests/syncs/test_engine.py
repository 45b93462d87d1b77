"""The engine driven directly (the worker is beside the point here; see test_worker.py)."""

import pytest

from connections.connectors import sandbox as sandbox_module
from connections.models import Connection
from syncs.engine import run_execute
from syncs.models import Incident, Record, SyncRun, SyncState
from syncs.services import sync_trigger
from tests.syncs.factories import expected, queued_run, sandbox_connection, stored

pytestmark = pytest.mark.django_db


def sync(connection, entity, mode="incremental") -> SyncRun:
    run = sync_trigger(connection=connection, entities=[entity], mode=mode, trigger="cli")[0].run
    return run_execute(run_id=run.pk)


def test_it_stores_exactly_the_sandbox_records_on_the_first_sync():
    conn = sandbox_connection(records=45)
    run = run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.created, run.updated, run.pages) == (45, 45, 0, 5)
    assert stored(conn, "purchase_orders") == expected(conn, "purchase_orders")
    state = SyncState.objects.get(connection=conn, entity="purchase_orders")
    assert state.record_count == 45 and state.last_success_at and state.cursor["updated_at"]


def test_it_stores_the_raw_record_and_a_stable_id():
    conn = sandbox_connection(records=5)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    record = Record.objects.get(connection=conn, entity="vendors", remote_id="V100000")
    from syncs.writers import record_id

    assert record.id == record_id(connection_id=conn.id, entity="vendors", remote_id="V100000")
    assert record.raw["SupplierName"] == record.data["name"]


def test_it_rewrites_nothing_on_a_second_sync():
    conn = sandbox_connection(records=30)
    run_execute(run_id=queued_run(conn, "assets").pk)
    before = dict(Record.objects.filter(connection=conn).values_list("id", "modified_at"))
    for mode in ("incremental", "full"):
        run = sync(conn, "assets", mode)
        assert run.status == "succeeded"
        assert (run.created, run.updated, run.deleted) == (0, 0, 0)
        assert run.unchanged == run.fetched
    assert dict(Record.objects.filter(connection=conn).values_list("id", "modified_at")) == before


def test_it_rewrites_only_the_changed_records(monkeypatch):
    conn = sandbox_connection(records=50, change_rate=0.1, change_period_seconds=600)
    run_execute(run_id=queued_run(conn, "work_orders").pk)
    before = dict(Record.objects.filter(connection=conn, entity="work_orders").values_list("remote_id", "modified_at"))
    real = sandbox_module.clock()
    monkeypatch.setattr(sandbox_module, "clock", lambda: real + 700)

    run = sync(conn, "work_orders")
    assert run.status == "succeeded"
    assert (run.created, run.updated) == (0, 5)
    after = dict(Record.objects.filter(connection=conn, entity="work_orders").values_list("remote_id", "modified_at"))
    assert sum(before[k] != after[k] for k in before) == 5
    assert stored(conn, "work_orders") == expected(conn, "work_orders")


def test_it_marks_deleted_records_on_a_full_resync():
    conn = sandbox_connection(records=40)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    Connection.objects.filter(pk=conn.pk).update(config={**conn.config, "deleted_fraction": 0.1})
    conn.refresh_from_db()

    incremental = sync(conn, "vendors")
    assert incremental.deleted == 0, "an incremental sync cannot see deletions"
    gone = 40 - len(expected(conn, "vendors"))
    assert 1 <= gone <= 10
    run = sync(conn, "vendors", "full")
    assert run.status == "succeeded" and run.deleted == gone
    assert stored(conn, "vendors") == expected(conn, "vendors")
    assert Record.objects.filter(connection=conn, entity="vendors", deleted_at__isnull=False).count() == gone
    assert SyncState.objects.get(connection=conn, entity="vendors").record_count == 40 - gone


def test_it_refuses_a_mass_deletion_and_says_why():
    conn = sandbox_connection(records=40)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    Connection.objects.filter(pk=conn.pk).update(config={**conn.config, "deleted_fraction": 0.9})
    conn.refresh_from_db()
    run = sync(conn, "vendors", "full")
    assert run.status == "succeeded" and run.deleted == 0
    assert "guard" in run.error_details["deletion_skipped"]


def test_it_resumes_from_the_checkpoint_after_a_crash():
    conn = sandbox_connection(records=100, faults={"crash_after_page": 3})
    first = run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    assert first.status == "failed" and first.error_code == "INTERNAL_ERROR"
    assert first.pages == 3 and Record.objects.filter(connection=conn, entity="purchase_orders").count() == 30

    Connection.objects.filter(pk=conn.pk).update(config={**conn.config, "faults": {}})
    conn.refresh_from_db()
    second = sync(conn, "purchase_orders", "full")
    assert second.resumed_from_id == first.pk
    assert second.status == "succeeded"
    assert (second.pages, second.fetched, second.created) == (10, 100, 100), "resumed, not re-read"
    assert stored(conn, "purchase_orders") == expected(conn, "purchase_orders")


def test_it_honours_retry_after():
    conn = sandbox_connection(records=20, faults={"rate_limit_every": 2, "retry_after": 1})
    run = run_execute(run_id=queued_run(conn, "locations").pk)
    assert run.status == "succeeded"
    retries = [e for e in run.timeline if e["event"] == "retry"]
    assert [(e["code"], e["wait_seconds"]) for e in retries] == [("UPSTREAM_RATE_LIMITED", 1.0)]
    assert (run.finished_at - run.started_at).total_seconds() >= 1.0


def test_it_fails_after_bounded_retries_and_tracks_an_incident(settings):
    settings.SYNC_PAGE_RETRIES = 2
    conn = sandbox_connection(records=20, faults={"server_error_every": 1, "server_error_persistent": True})
    run = run_execute(run_id=queued_run(conn, "assets").pk)
    assert run.status == "failed" and run.error_code == "UPSTREAM_SERVER_ERROR"
    assert len([e for e in run.timeline if e["event"] == "retry"]) == 2
    incident = Incident.objects.get(connection=conn, entity="assets")
    assert (incident.status, incident.occurrences) == ("open", 1)

    state = SyncState.objects.get(connection=conn, entity="assets")
    assert state.consecutive_failures == 1 and state.last_error_code == "UPSTREAM_SERVER_ERROR"
    assert 55 <= (state.next_due_at - run.finished_at).total_seconds() <= 65, "backoff starts at one minute"

    assert sync(conn, "assets").status == "failed"
    incident.refresh_from_db()
    assert incident.occurrences == 2

    Connection.objects.filter(pk=conn.pk).update(config={**conn.config, "faults": {}})
    conn.refresh_from_db()
    assert sync(conn, "assets").status == "succeeded"
    incident.refresh_from_db()
    assert incident.status == "resolved"


def test_it_moves_the_connection_to_auth_failed():
    conn = sandbox_connection(records=5, faults={"auth_failure": True}, verify=False)
    assert conn.status == "pending"
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run.error_code == "UPSTREAM_AUTHENTICATION_FAILED"
    conn.refresh_from_db()
    assert conn.status == "auth_failed" and "401" in conn.status_reason
    assert Incident.objects.filter(connection=conn, error_code="UPSTREAM_AUTHENTICATION_FAILED").exists()
    from core.errors import CatalogError

    with pytest.raises(CatalogError) as exc:
        sync_trigger(connection=conn, entities=["vendors"], trigger="dashboard")
    assert exc.value.code == "REAUTHORIZATION_REQUIRED"


def test_it_stops_a_run_whose_cancel_was_requested_before_it_started():
    conn = sandbox_connection(records=5)
    run = queued_run(conn, "vendors")
    SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    assert run_execute(run_id=run.pk) is None
    run.refresh_from_db()
    assert run.status == "cancelled" and run.error_code == "SYNC_CANCELLED"


def test_it_rolls_back_the_page_in_flight_when_a_cancel_arrives(monkeypatch):
    from syncs.writers import PageWriter

    conn = sandbox_connection(records=30, page_size=10)
    run = queued_run(conn, "vendors")
    original, calls = PageWriter.write, []

    def cancel_during_second_page(self, page, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True)
        return original(self, page, **kwargs)

    monkeypatch.setattr(PageWriter, "write", cancel_during_second_page)
    run = run_execute(run_id=run.pk)
    assert run.status == "cancelled" and run.error_code == "SYNC_CANCELLED"
    assert (run.pages, run.created) == (1, 10)
    assert Record.objects.filter(connection=conn, entity="vendors").count() == 10


def test_it_does_nothing_for_a_run_that_is_not_queued():
    conn = sandbox_connection(records=5)
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run_execute(run_id=run.pk) is None


def test_it_writes_the_webhook_events_of_each_outcome():
    from webhooks.models import Event

    conn = sandbox_connection(records=5, faults={"auth_failure": True}, verify=False)
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    types = list(Event.objects.filter(connection=conn).order_by("created_at").values_list("type", flat=True))
    assert types == ["connection.status_changed", "connection.reauthorization_required", "incident.opened",
                     "sync.failed"]
    failed = Event.objects.get(type="sync.failed")
    assert failed.payload["data"]["run"]["id"] == str(run.pk)
    assert failed.payload["data"]["run"]["error"]["code"] == "UPSTREAM_AUTHENTICATION_FAILED"

    Connection.objects.filter(pk=conn.pk).update(config={**conn.config, "faults": {}}, status="active")
    conn.refresh_from_db()
    run = sync(conn, "vendors")
    completed = Event.objects.get(type="sync.completed")
    assert completed.payload["data"]["run"]["counts"]["created"] == 5
    assert completed.payload["data"]["run"]["mode"] == "incremental"
    assert Event.objects.filter(type="incident.resolved", connection=conn).count() == 1


def test_it_falls_back_when_an_initial_load_meets_a_duplicate(monkeypatch):
    """An upstream that repeats a record on a later page must not fail an initial load."""
    from connections.connectors.sandbox import SandboxConnector

    conn = sandbox_connection(records=30)
    original = SandboxConnector.fetch_page

    def repeating(self, request):
        page = original(self, request)
        if request.checkpoint.get("page") == 1:
            page.records.insert(0, original(self, type(request)(request.entity, None, None, {})).records[0])
        return page

    monkeypatch.setattr(SandboxConnector, "fetch_page", repeating)
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.created, run.unchanged) == (31, 30, 1)
    assert stored(conn, "vendors") == expected(conn, "vendors")


def test_it_updates_the_stored_raw_when_only_an_unmapped_upstream_field_changes(monkeypatch):
    from connections.connectors.sandbox import SandboxConnector

    conn = sandbox_connection(records=10)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    before = Record.objects.get(connection=conn, entity="vendors", remote_id="V100003")
    original = SandboxConnector._raw_vendors

    def with_a_note(self, i, h, created, version):
        raw = original(self, i, h, created, version)
        return {**raw, "InternalNote": "call before delivery"} if i == 3 else raw

    monkeypatch.setattr(SandboxConnector, "_raw_vendors", with_a_note)
    run = sync(conn, "vendors", "full")
    assert (run.updated, run.unchanged) == (1, 9)
    after = Record.objects.get(pk=before.pk)
    assert after.raw["InternalNote"] == "call before delivery" and after.data == before.data
    assert after.modified_at > before.modified_at and after.change_seq > before.change_seq
