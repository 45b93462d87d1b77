"""Records that fail to map: counted, sampled, an incident, and never taken for deleted."""

import pytest

from connections.connectors.sandbox import SandboxConnector
from connections.models import Connection
from syncs.engine import run_execute
from syncs.models import Incident, Record, SyncRun
from syncs.services import sync_trigger
from tests.syncs.factories import expected, queued_run, sandbox_connection, stored
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def sync(connection, entity, mode="incremental") -> SyncRun:
    run = sync_trigger(connection=connection, entities=[entity], mode=mode, trigger="cli")[0].run
    return run_execute(run_id=run.pk)


def config_set(connection, **changes) -> None:
    Connection.objects.filter(pk=connection.pk).update(config={**connection.config, **changes})
    connection.refresh_from_db()


def test_it_counts_and_samples_records_that_fail_to_map():
    conn = sandbox_connection(records=20, faults={"bad_record_every": 5})
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run.status == "succeeded"
    assert (run.fetched, run.created, run.failed_records) == (20, 16, 4)
    assert run.error_details["failed_samples"] == [
        {"remote_id": f"V10000{i}", "error": f"vendors record V10000{i}: missing or bad field 'CreatedAt'"}
        for i in (4, 9)] + [
        {"remote_id": f"V1000{i}", "error": f"vendors record V1000{i}: missing or bad field 'CreatedAt'"}
        for i in (14, 19)]


def test_it_opens_one_incident_naming_the_entity_with_the_sample():
    conn = sandbox_connection(records=20, faults={"bad_record_every": 5})
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    incident = Incident.objects.get(connection=conn, entity="vendors", status="open")
    assert incident.error_code == "RECORD_MAPPING_FAILED" and incident.last_run_id == run.pk
    assert incident.message.startswith("4 of 20 vendors could not be mapped")
    assert "- V100004: vendors record V100004: missing or bad field 'CreatedAt'" in incident.message
    assert Event.objects.filter(connection=conn, type="incident.opened",
                                payload__data__incident__error_code="RECORD_MAPPING_FAILED").count() == 1

    again = sync(conn, "vendors", "full")
    incident.refresh_from_db()
    assert again.failed_records == 4 and incident.status == "open" and incident.occurrences == 2

    config_set(conn, faults={})
    sync(conn, "vendors", "full")
    incident.refresh_from_db()
    assert incident.status == "resolved", "a run that maps every record resolves it"


def test_it_never_marks_a_record_deleted_because_it_failed_to_map():
    conn = sandbox_connection(records=50)
    run_execute(run_id=queued_run(conn, "assets").pk)
    before = dict(Record.objects.filter(connection=conn, entity="assets").values_list("remote_id", "data"))

    config_set(conn, faults={"bad_record_every": 5})
    run = sync(conn, "assets", "full")
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.failed_records, run.unchanged, run.deleted) == (50, 10, 40, 0)
    assert Record.objects.filter(connection=conn, entity="assets", deleted_at__isnull=False).count() == 0
    after = dict(Record.objects.filter(connection=conn, entity="assets").values_list("remote_id", "data"))
    assert after == before, "the stored copy of a record that failed to map is kept as it was"


def test_it_still_deletes_what_is_really_gone_while_some_records_fail_to_map():
    conn = sandbox_connection(records=50)
    run_execute(run_id=queued_run(conn, "assets").pk)
    config_set(conn, deleted_fraction=0.1, faults={"bad_record_every": 5})
    upstream = SandboxConnector(config=conn.config, credentials={})
    gone = sum(upstream.is_deleted("assets", i) for i in range(50))
    run = sync(conn, "assets", "full")
    assert run.status == "succeeded" and gone >= 1
    assert run.deleted == gone
    assert Record.objects.filter(connection=conn, entity="assets", deleted_at__isnull=True).count() == 50 - gone


def test_it_deletes_nothing_when_a_record_cannot_be_identified():
    conn = sandbox_connection(records=50)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    config_set(conn, deleted_fraction=0.1, faults={"unidentifiable_every": 10})
    run = sync(conn, "vendors", "full")
    assert run.status == "succeeded" and run.failed_records >= 1
    assert run.deleted == 0
    assert Record.objects.filter(connection=conn, entity="vendors", deleted_at__isnull=True).count() == 50
    assert run.error_details["unidentified_records"] == run.failed_records
    assert "could not be identified" in run.error_details["deletion_skipped"]
    assert {"remote_id": None, "error": "vendors record without an Id"} in run.error_details["failed_samples"]


def test_it_refuses_times_without_an_offset_as_mapping_errors():
    conn = sandbox_connection(records=20, faults={"naive_times": True})
    run = run_execute(run_id=queued_run(conn, "locations").pk)
    assert run.status == "failed" and run.error_code == "MAPPING_FAILED"
    assert run.failed_records == 20 and Record.objects.filter(connection=conn).count() == 0
    assert "has no UTC offset" in run.error_details["failed_samples"][0]["error"]
    assert not SyncRun.objects.filter(connection=conn, entity="locations", status="queued").exists(), (
        "a mapping failure is not retried: it would fail the same way")


def test_it_stores_exactly_the_records_that_map_and_only_those():
    conn = sandbox_connection(records=30, faults={"bad_record_every": 3})
    run_execute(run_id=queued_run(conn, "work_orders").pk)
    config_set(conn, faults={})
    good = {remote_id: data for remote_id, data in expected(conn, "work_orders").items()
            if int(remote_id[1:]) % 3 != 2}
    assert stored(conn, "work_orders") == good
