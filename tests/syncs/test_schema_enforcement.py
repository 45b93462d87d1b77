"""The engine checks every normalized record against the unified schema before storing it: one
that does not fit is that record's mapping failure (docs/entities.md, Rules)."""

import pytest

from connections.connectors.sandbox import SandboxConnector
from syncs.engine import run_execute
from syncs.models import Incident, Record
from tests.syncs.factories import expected, queued_run, sandbox_connection, stored

pytestmark = pytest.mark.django_db

OFF_SCHEMA = "created_at: Input should be a valid string"


def test_it_counts_samples_and_never_stores_a_record_the_schema_refuses():
    conn = sandbox_connection(records=20, faults={"epoch_times_every": 4})
    run = run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.created, run.failed_records) == (20, 15, 5)
    refused = {f"PO{i}" for i in (3, 7, 11, 15, 19)}
    samples = run.error_details["failed_samples"]
    assert {s["remote_id"] for s in samples} <= refused and samples
    assert all(s["error"] == OFF_SCHEMA for s in samples)
    assert not Record.objects.filter(connection=conn, remote_id__in=refused).exists()
    good = {rid: data for rid, data in expected(conn, "purchase_orders").items() if rid not in refused}
    assert stored(conn, "purchase_orders") == good


def test_it_opens_the_mapping_incident_for_schema_refusals():
    conn = sandbox_connection(records=10, faults={"epoch_times_every": 5})
    run = run_execute(run_id=queued_run(conn, "work_orders").pk)
    incident = Incident.objects.get(connection=conn, entity="work_orders", status="open")
    assert incident.error_code == "RECORD_MAPPING_FAILED" and incident.last_run_id == run.pk
    assert f"- W4: {OFF_SCHEMA}" in incident.message


def test_it_refuses_a_field_the_schema_does_not_know(monkeypatch):
    original = SandboxConnector._norm_vendors

    def with_an_unknown_field(self, raw):
        unified = original(self, raw)
        if raw["Id"].endswith("3"):
            unified["colour"] = "red"
        return unified

    monkeypatch.setattr(SandboxConnector, "_norm_vendors", with_an_unknown_field)
    conn = sandbox_connection(records=20)
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert (run.status, run.created, run.failed_records) == ("succeeded", 18, 2)
    assert run.error_details["failed_samples"] == [
        {"remote_id": rid, "error": "colour: is not a field of the unified schema"} for rid in ("V100003", "V100013")]
    assert set(stored(conn, "vendors")) == {f"V{100000 + i}" for i in range(20) if i % 10 != 3}
