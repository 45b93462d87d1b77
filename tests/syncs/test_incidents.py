"""Incidents (syncs/incidents.py): one per connection-level cause, one per entity otherwise."""

import pytest

from connections.connectors.sandbox import SandboxConnector
from connections.models import Connection
from core.models import AuditEvent
from syncs.connection_status import connection_set_status
from syncs.engine import run_execute
from syncs.incidents import incident_record, incidents_acknowledge, incidents_after_success, incidents_resolve
from syncs.lifecycle import connection_update
from syncs.models import Incident, SyncRun
from tests.syncs.factories import TEST_ACTOR, bare_connection, queued_run, run_row, sandbox_connection
from webhooks.models import Event

pytestmark = pytest.mark.django_db

ENTITIES = ["assets", "locations", "purchase_orders", "vendors", "work_orders"]


def run_all_queued(connection) -> list[SyncRun]:
    return [run_execute(run_id=run.pk) for run in SyncRun.objects.filter(connection=connection, status="queued")
            .order_by("entity")]


def events(connection, type: str) -> list[Event]:
    return list(Event.objects.filter(connection=connection, type=type))


def test_it_opens_one_incident_for_bad_credentials_whatever_the_number_of_entities(monkeypatch):
    conn = sandbox_connection(faults={"auth_failure": True}, verify=False)
    entities = sorted(conn.entities)
    assert len(entities) >= 5
    calls = []
    original = SandboxConnector._injected_call_faults
    monkeypatch.setattr(SandboxConnector, "_injected_call_faults", lambda self: calls.append(1) or original(self))
    runs = run_all_queued(conn)

    incident = Incident.objects.get(connection=conn)
    assert (incident.entity, incident.error_code, incident.status) == ("", "UPSTREAM_AUTHENTICATION_FAILED", "open")
    assert incident.entities == entities and incident.occurrences == len(entities)
    opened = events(conn, "incident.opened")
    assert len(opened) == 1 and opened[0].payload["data"]["incident"]["entities"] == [entities[0]]
    # The runs queued behind the first one end on its incident without asking the upstream again.
    assert [r.error_code for r in runs] == ["UPSTREAM_AUTHENTICATION_FAILED"] + ["REAUTHORIZATION_REQUIRED"] * (
        len(entities) - 1)
    assert len(calls) == 1
    assert not SyncRun.objects.filter(connection=conn, status="queued").exists(), "and none is retried"


def test_it_keeps_entity_level_failures_per_entity(settings):
    settings.SYNC_PAGE_RETRIES, settings.SYNC_AUTO_RETRIES = 0, 0
    conn = sandbox_connection(faults={"server_error_every": 1, "server_error_persistent": True})
    run_execute(run_id=queued_run(conn, "assets").pk)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    incidents = Incident.objects.filter(connection=conn).order_by("entity")
    assert [(i.entity, i.error_code, i.entities) for i in incidents] == [
        ("assets", "UPSTREAM_SERVER_ERROR", []), ("vendors", "UPSTREAM_SERVER_ERROR", [])]
    assert len(events(conn, "incident.opened")) == 2


def test_it_keeps_a_permission_error_per_entity():
    conn = bare_connection()
    for entity in ("assets", "vendors"):
        incident_record(run=run_row(conn, entity, status="failed"), code="UPSTREAM_PERMISSION_DENIED", message="403")
    assert sorted(Incident.objects.values_list("entity", flat=True)) == ["assets", "vendors"]


def test_it_resolves_it_when_new_credentials_make_the_connection_active_again():
    conn = sandbox_connection(faults={"auth_failure": True}, verify=False)
    run_all_queued(conn)
    conn.refresh_from_db()
    assert conn.status == "auth_failed"
    connection_update(connection=conn, actor=TEST_ACTOR, config={"faults": {}}, credentials={"api_key": "new"})
    incident = Incident.objects.get(connection=conn)
    assert incident.status == "resolved" and incident.resolved_at
    resolved = events(conn, "incident.resolved")
    assert len(resolved) == 1 and resolved[0].payload["data"]["incident"]["entities"] == sorted(conn.entities)


def test_it_resolves_it_on_a_success_of_any_entity():
    conn = sandbox_connection()
    assert conn.status == "active"
    Connection.objects.filter(pk=conn.pk).update(config={**conn.config, "faults": {"unreachable": True}})
    for entity in ("assets", "vendors"):
        run_execute(run_id=queued_run(conn, entity).pk)
    incident = Incident.objects.get(connection=conn)
    assert (incident.error_code, incident.entities) == ("UPSTREAM_UNREACHABLE", ["assets", "vendors"])
    Connection.objects.filter(pk=conn.pk).update(config={**conn.config, "faults": {}})
    assert run_execute(run_id=queued_run(conn, "locations").pk).status == "succeeded"
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert len(events(conn, "incident.opened")) == len(events(conn, "incident.resolved")) == 1


def test_it_resolves_a_refused_address_on_a_success_while_the_status_never_changed():
    conn = bare_connection()
    for entity in ("assets", "vendors"):
        incident_record(run=run_row(conn, entity, status="failed"), code="UPSTREAM_ADDRESS_REFUSED", message="no")
    entity_own = incident_record(run=run_row(conn, "vendors", status="failed"), code="UPSTREAM_SERVER_ERROR",
                                 message="503")
    incidents_after_success(run=run_row(conn, "locations", status="succeeded"))
    assert Incident.objects.get(error_code="UPSTREAM_ADDRESS_REFUSED").status == "resolved"
    entity_own.refresh_from_db()
    assert entity_own.status == "open", "another entity's success says nothing about this entity's own failure"


def test_it_keeps_it_open_when_a_paused_connection_is_resumed():
    conn = bare_connection()
    incident_record(run=run_row(conn, "assets", status="failed"), code="UPSTREAM_AUTHENTICATION_FAILED", message="401")
    connection_set_status(connection=conn, status=Connection.Status.PAUSED, reason="paused")
    connection_set_status(connection=conn, status=Connection.Status.ACTIVE, reason="resumed")
    assert Incident.objects.get().status == "open"


def test_it_counts_a_repeat_and_lists_each_entity_once():
    conn = bare_connection()
    for entity in ("vendors", "assets", "vendors"):
        incident_record(run=run_row(conn, entity, status="failed"), code="UPSTREAM_UNREACHABLE", message="down")
    incident = Incident.objects.get()
    assert (incident.entities, incident.occurrences) == (["assets", "vendors"], 3)


def test_it_records_one_audit_event_per_acknowledgement_and_keeps_it_unresolved():
    conn = bare_connection()
    group = [incident_record(run=run_row(conn, e, status="failed"), code="UPSTREAM_SERVER_ERROR", message="503")
             for e in ("assets", "vendors")]
    assert incidents_acknowledge(incidents=group, actor=TEST_ACTOR) == 2
    assert incidents_acknowledge(incidents=group, actor=TEST_ACTOR) == 0, "acknowledging twice changes nothing"
    event = AuditEvent.objects.get(action="incident.acknowledged")
    assert event.details == {"incidents": [i.pk for i in group], "error_codes": ["UPSTREAM_SERVER_ERROR"],
                             "entities": ["assets", "vendors"]}
    assert set(Incident.objects.values_list("status", flat=True)) == {"acknowledged"}
    assert Incident.objects.filter(status__in=Incident.UNRESOLVED).count() == 2


def test_it_records_one_audit_event_per_resolve_and_one_webhook_event_per_incident():
    conn = bare_connection()
    group = [incident_record(run=run_row(conn, e, status="failed"), code="UPSTREAM_SERVER_ERROR", message="503")
             for e in ("assets", "vendors")]
    assert incidents_resolve(incidents=group, actor=TEST_ACTOR) == 2
    assert AuditEvent.objects.filter(action="incident.resolved").count() == 1
    assert len(events(conn, "incident.resolved")) == 2


def test_it_resolves_once_when_a_success_and_a_click_race():
    conn = bare_connection()
    incident = incident_record(run=run_row(conn, "assets", status="failed"), code="UPSTREAM_SERVER_ERROR", message="x")
    stale = Incident.objects.get(pk=incident.pk)  # the page loaded it before the run resolved it
    incidents_after_success(run=run_row(conn, "assets", status="succeeded"))
    assert incidents_resolve(incidents=[stale], actor=TEST_ACTOR) == 0
    assert incidents_acknowledge(incidents=[stale], actor=TEST_ACTOR) == 0
    assert len(events(conn, "incident.resolved")) == 1
    assert not AuditEvent.objects.filter(action__startswith="incident.").exists()
