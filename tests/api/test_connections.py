import uuid

import pytest

from connections.models import Connection, Customer
from core.models import AuditEvent
from syncs.connection_status import connection_set_status
from syncs.engine import run_execute
from syncs.models import Record, SyncRun
from syncs.services import sync_trigger
from tests.api.conftest import ApiClient, assert_error, make_records, synced
from tests.connections.factories import sandbox_checks_counted
from tests.syncs.factories import TEST_ACTOR

pytestmark = pytest.mark.django_db

NEW = {"customer": {"name": "Globex", "external_id": "cust-77"}, "connector": "sandbox", "name": "Globex SAP",
       "config": {"seed": 3, "records": 20}, "credentials": {"api_key": "very-secret"}}
MISSING = "00000000-0000-4000-8000-000000000000"


def test_it_lists_the_connector_catalogue(admin):
    connectors = admin.get("/api/v1/connectors").json()["data"]
    sandbox = next(c for c in connectors if c["key"] == "sandbox")
    assert "purchase_orders" in sandbox["entities"]
    assert [f["name"] for f in sandbox["credential_fields"]] == ["api_key"]
    assert sandbox["credential_fields"][0]["kind"] == "password"


def test_it_creates_a_connection_and_shows_its_token_once(admin):
    response = admin.post("/api/v1/connections", NEW, headers={"X-Request-ID": "req_create_42"})
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("ctk_") and body["token"].startswith(body["token_prefix"])
    assert body["status"] == "active" and body["customer"]["external_id"] == "cust-77"
    assert body["config"]["seed"] == 3 and b"very-secret" not in response.content
    connection = Connection.objects.get(pk=body["id"])
    assert connection.credentials == {"api_key": "very-secret"}
    # The token works, and no later read shows it again.
    own = ApiClient(body["token"]).get("/api/v1/connection").json()
    assert own["id"] == body["id"] and "token" not in own
    detail = admin.get(f"/api/v1/connections/{body['id']}")
    assert "token" not in detail.json() and b"very-secret" not in detail.content
    # The initial full sync is queued with the request id; the audit trail names the admin key by its name.
    runs = SyncRun.objects.filter(connection=connection)
    assert {(r.mode, r.trigger, r.request_id) for r in runs} == {("full", "api", "req_create_42")}
    audit = AuditEvent.objects.get(action="connection.created", connection=connection)
    assert audit.source == "api" and audit.request_id == "req_create_42" and audit.actor == "backend"


def test_it_reuses_a_customer_by_external_id(admin):
    first = admin.post("/api/v1/connections", NEW).json()
    second = admin.post("/api/v1/connections", {**NEW, "name": "Globex MaintainX"}).json()
    assert first["customer"]["id"] == second["customer"]["id"]


def test_it_checks_credentials_upstream_before_saving(admin):
    body = {**NEW, "config": {**NEW["config"], "faults": {"auth_failure": True}}}
    error = assert_error(admin.post("/api/v1/connections", body), "VALIDATION_FAILED")
    assert error["details"]["upstream_code"] == "UPSTREAM_AUTHENTICATION_FAILED"
    assert "credentials" in error["details"]["fields"]
    assert not Connection.objects.filter(name="Globex SAP").exists()


def test_it_answers_502_when_the_upstream_cannot_be_reached(admin):
    body = {**NEW, "config": {**NEW["config"], "faults": {"unreachable": True}}}
    error = assert_error(admin.post("/api/v1/connections", body), "UPSTREAM_UNREACHABLE")
    assert error["type"] == "upstream_error"
    assert not Connection.objects.filter(name="Globex SAP").exists()


@pytest.mark.parametrize("change, code", [
    ({"connector": "oracle-from-mars"}, "VALIDATION_FAILED"),
    ({"config": {"records": "many"}}, "VALIDATION_FAILED"),
    ({"config": {"anchor": "not a time"}}, "VALIDATION_FAILED"),
    ({"credentials": {}}, "VALIDATION_FAILED"),
    ({"entities": ["spaceships"]}, "VALIDATION_FAILED"),
    ({"config": {"faults": {"auth_failure": True}}}, "VALIDATION_FAILED"),
    ({"config": {"faults": {"unreachable": True}}}, "UPSTREAM_UNREACHABLE"),
])
def test_it_leaves_no_customer_behind_when_it_refuses_a_connection(admin, change, code):
    assert_error(admin.post("/api/v1/connections", {**NEW, **change}), code)
    assert not Customer.objects.exists() and not Connection.objects.exists()


def test_it_checks_the_credentials_upstream_once_per_create(admin):
    with sandbox_checks_counted() as checks:
        assert admin.post("/api/v1/connections", NEW).status_code == 201
    assert len(checks) == 1


@pytest.mark.parametrize("change, field", [
    ({"connector": "oracle-from-mars"}, "connector"),
    ({"config": {"records": "many"}}, "config.records"),
    ({"config": {"bogus": 1}}, "config.bogus"),
    ({"credentials": {}}, "credentials.api_key"),
    ({"entities": ["spaceships"]}, "entities"),
    ({"sync_interval_minutes": 2}, "sync_interval_minutes"),
    ({"history_days": 0}, "history_days"),
    ({"config": {"anchor": "not a time"}}, "config.anchor"),
    ({"config": {"deleted_fraction": 1e308}}, "config.deleted_fraction"),
])
def test_it_refuses_invalid_connections_field_by_field(admin, change, field):
    error = assert_error(admin.post("/api/v1/connections", {**NEW, **change}), "VALIDATION_FAILED")
    assert field in error["details"]["fields"]
    assert not Connection.objects.exists()


def test_it_lists_connections_newest_first_with_filters_and_cursors(admin, connection, other_connection):
    made = [admin.post("/api/v1/connections", {**NEW, "name": f"C{i}"}).json()["id"] for i in range(3)]
    everything = admin.get("/api/v1/connections").json()["data"]
    assert [c["id"] for c in everything] == made[::-1] + [str(other_connection.pk), str(connection.pk)]
    assert [c["id"] for c in admin.get("/api/v1/connections", {"customer_external_id": "cust-77"}).json()["data"]] \
        == made[::-1]
    connection_set_status(connection=connection, status="paused", reason="test")
    assert [c["id"] for c in admin.get("/api/v1/connections", {"status": "paused"}).json()["data"]] == [
        str(connection.pk)]
    first = admin.get("/api/v1/connections", {"page_size": 2}).json()
    second = admin.get("/api/v1/connections", {"page_size": 2, "cursor": first["next_cursor"]}).json()
    third = admin.get("/api/v1/connections", {"page_size": 2, "cursor": second["next_cursor"]}).json()
    assert [c["id"] for c in first["data"] + second["data"] + third["data"]] == [c["id"] for c in everything]
    assert third["next_cursor"] is None
    assert all("credentials" not in c for c in everything)


def test_it_gets_a_connection_or_404(admin, connection):
    assert admin.get(f"/api/v1/connections/{connection.pk}").json()["name"] == "Plant A"
    assert_error(admin.get(f"/api/v1/connections/{MISSING}"), "NOT_FOUND")
    assert_error(admin.get("/api/v1/connections/plant-a"), "VALIDATION_FAILED")


def test_it_updates_only_the_fields_sent(admin, connection):
    body = admin.patch(f"/api/v1/connections/{connection.pk}", {"name": "Plant A (renamed)",
                                                                 "sync_interval_minutes": 15}).json()
    assert body["name"] == "Plant A (renamed)" and body["sync_interval_minutes"] == 15
    assert body["history_days"] == 90 and body["config"]["records"] == 30
    patched = admin.patch(f"/api/v1/connections/{connection.pk}", {"entities": ["vendors", "work-orders"]}).json()
    assert patched["entities"] == ["vendors", "work_orders"]


def test_it_lifts_auth_failed_with_good_new_credentials(admin, connection):
    connection_set_status(connection=connection, status="auth_failed", reason="401")
    body = admin.patch(f"/api/v1/connections/{connection.pk}", {"credentials": {"api_key": "new"}}).json()
    assert body["status"] == "active"
    connection.refresh_from_db()
    assert connection.credentials == {"api_key": "new"}


def test_it_refuses_credentials_the_upstream_rejects(admin, connection):
    assert_error(admin.patch(f"/api/v1/connections/{connection.pk}", {"credentials": {"api_key": ""}}),
                 "VALIDATION_FAILED")
    connection.config = {**connection.config, "faults": {"auth_failure": True}}
    connection.save()
    error = assert_error(admin.patch(f"/api/v1/connections/{connection.pk}", {"credentials": {"api_key": "x"}}),
                         "VALIDATION_FAILED")
    assert error["details"]["upstream_code"] == "UPSTREAM_AUTHENTICATION_FAILED"
    connection.refresh_from_db()
    assert connection.credentials == {"api_key": "k"}


@pytest.mark.parametrize("body, field", [({"token_prefix": "ctk_x"}, "token_prefix"),
                                         ({"history_days": -3}, "history_days"), ({"name": ""}, "name")])
def test_it_refuses_invalid_updates(admin, connection, body, field):
    error = assert_error(admin.patch(f"/api/v1/connections/{connection.pk}", body), "VALIDATION_FAILED")
    assert field in error["details"]["fields"]


def test_it_deletes_a_connection_with_its_data(admin, connection, token):
    make_records(connection, "vendors", 5)
    response = admin.delete(f"/api/v1/connections/{connection.pk}")
    assert response.status_code == 204 and response.content == b""
    assert not Connection.objects.filter(pk=connection.pk).exists()
    assert not Record.objects.filter(connection_id=connection.pk).exists()
    assert AuditEvent.objects.filter(action="connection.deleted", target_id=str(connection.pk)).exists()
    assert_error(ApiClient(token).get("/api/v1/connection"), "AUTHENTICATION_FAILED")
    assert_error(admin.delete(f"/api/v1/connections/{connection.pk}"), "NOT_FOUND")


def test_it_pauses_and_resumes_a_connection(admin, connection):
    body = admin.post(f"/api/v1/connections/{connection.pk}/pause", {"reason": "maintenance window"}).json()
    assert body["status"] == "paused" and body["status_reason"] == "maintenance window" and body["paused_at"]
    assert not SyncRun.objects.filter(connection=connection, status__in=["queued", "running"]).exists()
    body = admin.post(f"/api/v1/connections/{connection.pk}/resume").json()
    assert body["status"] == "active" and body["paused_at"] is None


def test_it_pauses_without_a_body(admin, connection):
    response = admin.post(f"/api/v1/connections/{connection.pk}/pause")  # an empty body
    assert response.status_code == 200 and response.json()["status"] == "paused"
    assert response.json()["status_reason"] == "paused by backend"


def test_it_disconnects_a_connection_and_revokes_its_token(admin, connection, token):
    body = admin.post(f"/api/v1/connections/{connection.pk}/disconnect").json()
    assert body["status"] == "disconnected" and body["disconnected_at"]
    assert_error(ApiClient(token).get("/api/v1/connection"), "AUTHENTICATION_FAILED")
    for action in ("pause", "resume", "rotate-token"):
        error = assert_error(admin.post(f"/api/v1/connections/{connection.pk}/{action}"), "CONNECTION_NOT_ACTIVE")
        assert error["details"]["status"] == "disconnected"


def test_it_rotates_a_connection_token(admin, connection, token):
    body = admin.post(f"/api/v1/connections/{connection.pk}/rotate-token").json()
    assert body["token"].startswith(body["token_prefix"]) and body["token"] != token
    assert_error(ApiClient(token).get("/api/v1/connection"), "AUTHENTICATION_FAILED")
    assert ApiClient(body["token"]).get("/api/v1/connection").status_code == 200
    audit = AuditEvent.objects.get(action="connection.token_rotated", connection=connection)
    assert audit.source == "api" and audit.request_id.startswith("req_")


def test_it_tests_a_connections_credentials(admin, connection):
    assert admin.post(f"/api/v1/connections/{connection.pk}/test").json() == {
        "ok": True, "code": None, "message": None, "details": None,
        "entities": {e: {"ok": True, "outcome": "ok", "code": None, "message": None} for e in connection.entities}}
    connection.config = {**connection.config, "faults": {"unreachable": True}}
    connection.save()
    result = admin.post(f"/api/v1/connections/{connection.pk}/test").json()
    assert result["ok"] is False and result["code"] == "UPSTREAM_UNREACHABLE" and result["entities"] == {}


def test_it_tests_read_access_per_entity(admin, connection, monkeypatch):
    from connections.connectors.base import UpstreamError
    from connections.connectors.sandbox import SandboxConnector

    def probe(self, entity):
        if entity == "purchase_orders":
            raise UpstreamError("UPSTREAM_PERMISSION_DENIED", "No authorization for A_PurchaseOrder.")

    monkeypatch.setattr(SandboxConnector, "probe", probe)
    result = admin.post(f"/api/v1/connections/{connection.pk}/test").json()
    assert result["ok"] is True
    assert result["entities"]["purchase_orders"] == {"ok": False, "outcome": "no_permission",
                                                     "code": "UPSTREAM_PERMISSION_DENIED",
                                                     "message": "No authorization for A_PurchaseOrder."}
    assert all(r["ok"] for e, r in result["entities"].items() if e != "purchase_orders")


@pytest.mark.parametrize("method, suffix", [("get", ""), ("patch", ""), ("delete", ""), ("post", "/pause"),
                                            ("post", "/resume"), ("post", "/disconnect"), ("post", "/rotate-token"),
                                            ("post", "/test")])
def test_it_answers_404_for_an_unknown_connection_on_every_route(admin, method, suffix):
    path = f"/api/v1/connections/{uuid.uuid4()}{suffix}"
    response = getattr(admin, method)(path, **({"body": {}} if method in ("post", "patch") else {}))
    assert_error(response, "NOT_FOUND")


def test_it_records_the_admin_key_and_request_id_on_audit_events(admin, connection):
    admin.post(f"/api/v1/connections/{connection.pk}/pause", {}, headers={"X-Request-ID": "req_pause_1"})
    audit = AuditEvent.objects.get(action="connection.paused", connection=connection)
    assert (audit.source, audit.request_id) == ("api", "req_pause_1") and audit.actor == "backend"
    assert TEST_ACTOR.name != audit.actor


def test_it_keeps_every_live_record_when_a_patch_makes_records_fail_to_map(admin, connection):
    """The issue's check: a clean full sync, bad records turned on through PATCH, a full re-sync."""
    synced(connection, "purchase_orders")
    live = set(Record.objects.filter(connection=connection, entity="purchase_orders").values_list("id", flat=True))
    assert len(live) == 30
    patched = admin.patch(f"/api/v1/connections/{connection.pk}", {"config": {"faults": {"bad_record_every": 5}}})
    assert patched.status_code == 200, patched.content

    run = sync_trigger(connection=connection, entities=["purchase_orders"], mode="full", trigger="api")[0].run
    run = run_execute(run_id=run.pk)
    assert run.status == "succeeded" and (run.failed_records, run.deleted) == (6, 0)
    still_live = Record.objects.filter(connection=connection, entity="purchase_orders", deleted_at__isnull=True)
    assert set(still_live.values_list("id", flat=True)) == live


def _nested(levels: int, leaf=1):
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("change, field", [
    ({"metadata": _nested(500)}, "metadata"),
    ({"config": {**NEW["config"], "faults": _nested(900)}}, "config"),
    ({"credentials": {"api_key": "k", "nested": _nested(40)}}, "credentials"),
])
def test_it_refuses_json_nested_too_deep_and_saves_nothing(admin, change, field):
    error = assert_error(admin.post("/api/v1/connections", {**NEW, **change}), "VALIDATION_FAILED")
    assert error["details"]["fields"] == {field: "nested deeper than 32 levels"}
    assert not Connection.objects.exists() and not Customer.objects.exists()
    assert admin.get("/api/v1/connections").json()["data"] == []


def test_it_refuses_a_body_deeper_than_the_json_parser_reads(admin):
    levels = 5000
    raw = '{"customer": {"name": "Globex"}, "connector": "sandbox", "name": "Deep", "metadata": ' + \
        '{"a": ' * levels + "1" + "}" * levels + "}"
    error = assert_error(admin.post("/api/v1/connections", raw=raw), "VALIDATION_FAILED")
    assert error["details"]["fields"] == {"body": "nested deeper than 32 levels"}
    assert not Connection.objects.exists() and not Customer.objects.exists()


def test_it_refuses_an_update_with_config_nested_too_deep(admin, connection):
    before = connection.config
    error = assert_error(admin.patch(f"/api/v1/connections/{connection.pk}", {"config": {"faults": _nested(900)}}),
                         "VALIDATION_FAILED")
    assert error["details"]["fields"] == {"config": "nested deeper than 32 levels"}
    connection.refresh_from_db()
    assert connection.config == before


def test_it_still_lists_and_shows_connections_when_a_stored_one_is_too_deep(admin, connection, other_connection,
                                                                             caplog):
    # Written behind the services' back, as the unbounded API used to store it.
    Connection.objects.filter(pk=connection.pk).update(metadata=_nested(500), config={"faults": _nested(300)})
    listed = admin.get("/api/v1/connections")
    assert listed.status_code == 200, listed.content[:300]
    by_id = {c["id"]: c for c in listed.json()["data"]}
    placeholder = {"_error": "stored value nested too deep to render"}
    assert by_id[str(connection.pk)]["metadata"] == by_id[str(connection.pk)]["config"] == placeholder
    assert by_id[str(other_connection.pk)]["config"]["records"] == 30
    detail = admin.get(f"/api/v1/connections/{connection.pk}")
    assert detail.status_code == 200 and detail.json()["metadata"] == placeholder
    assert any("nested deeper than 128 levels" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("route", ["create", "rotate-token"])
def test_it_forbids_caching_an_answer_that_carries_a_token(admin, connection, route):
    if route == "create":
        response = admin.post("/api/v1/connections", NEW)
    else:
        response = admin.post(f"/api/v1/connections/{connection.pk}/rotate-token")
    assert response.status_code in (200, 201) and "token" in response.json()
    assert "no-store" in [d.strip() for d in response["Cache-Control"].split(",")]
