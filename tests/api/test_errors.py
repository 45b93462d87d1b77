"""The envelope on every response under /api/, whatever went wrong and wherever."""

import logging

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from kombu.exceptions import OperationalError as BrokerOperationalError

from connections.services import connection_token_issue
from syncs.models import SyncRun
from tests.api.conftest import ApiClient, assert_error, synced
from tests.syncs.factories import sandbox_connection

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/nonexistent"), ("post", "/api/v1/nonexistent"), ("get", "/api/v1/"),
    ("get", "/api/"), ("get", "/api/v2/vendors"), ("get", "/api/v1/connection/"), ("get", "/api/v1/vendors/a/b"),
    ("delete", "/api/v1/webhook-endpoints/1/nothing"),
])
def test_it_answers_unknown_routes_with_not_found(anonymous, method, path):
    error = assert_error(getattr(anonymous, method)(path), "NOT_FOUND")
    assert path in error["message"]


@pytest.mark.parametrize("method, path, allowed", [
    ("delete", "/api/v1/connection", ["GET"]), ("put", "/api/v1/syncs", ["GET", "POST"]),
    ("get", "/api/v1/syncs/00000000-0000-4000-8000-000000000000/cancel", ["POST"]),
    ("post", "/api/v1/connections/00000000-0000-4000-8000-000000000000", ["DELETE", "GET", "PATCH"]),
])
def test_it_answers_wrong_methods_with_method_not_allowed(api, method, path, allowed):
    response = api.client.generic(method.upper(), path, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    error = assert_error(response, "METHOD_NOT_ALLOWED")
    assert error["details"]["allowed_methods"] == allowed
    assert response["Allow"] == ", ".join(allowed)


@pytest.mark.parametrize("raw", ['{"entities": [', "not json", '{"mode": NaN}', '"\\ud800"', "\xff\xfe"])
def test_it_answers_malformed_json_with_invalid_request(api, raw):
    error = assert_error(api.post("/api/v1/syncs", raw=raw.encode("latin-1") if raw == "\xff\xfe" else raw),
                         "INVALID_REQUEST")
    assert error["message"] == "The request body is not valid JSON."


def test_it_lists_every_invalid_field(admin):
    body = {"customer": {"name": ""}, "connector": 7, "sync_interval_minutes": 1, "history_days": "many",
            "colour": "red"}
    error = assert_error(admin.post("/api/v1/connections", body), "VALIDATION_FAILED")
    fields = error["details"]["fields"]
    assert set(fields) == {"customer.name", "connector", "name", "sync_interval_minutes", "history_days", "colour"}
    assert {e["field"] for e in error["details"]["errors"]} == set(fields)
    assert all(e["location"] == "body" for e in error["details"]["errors"])


@pytest.mark.parametrize("body", [[], "text", 12])
def test_it_answers_a_body_of_the_wrong_shape_with_validation_failed(api, body):
    assert_error(api.post("/api/v1/syncs", body), "VALIDATION_FAILED")


def test_it_answers_an_unexpected_error_without_leaking_internals(api, monkeypatch, caplog):
    def explode(**kwargs):
        raise RuntimeError("password=hunter2 in /srv/plantsync/secret.py")

    monkeypatch.setattr("syncs.api.sync_status", explode)
    with caplog.at_level(logging.ERROR, logger="core.api"):
        response = api.get("/api/v1/sync-status")
    error = assert_error(response, "INTERNAL_ERROR")
    assert error["message"] == "Something went wrong on our side." and error["details"] == {}
    assert b"hunter2" not in response.content and b"RuntimeError" not in response.content
    assert "hunter2" in caplog.text  # but it is logged for us


def test_it_answers_503_with_retry_after_when_the_database_is_down(api, monkeypatch):
    def refuse(self, sql, params=None):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr(CursorWrapper, "execute", refuse)
    response = api.get("/api/v1/connection")
    error = assert_error(response, "SERVICE_UNAVAILABLE")
    assert response["Retry-After"] == "5" and b"5432" not in response.content
    assert error["details"] == {}


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_when_the_broker_is_down(monkeypatch):
    conn = synced(sandbox_connection(name="Broker test", entities=["vendors"]), "vendors")
    client = ApiClient(connection_token_issue(connection=conn))
    from syncs.tasks import sync_run_execute_task

    def refuse(*args, **kwargs):
        raise BrokerOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(sync_run_execute_task, "apply_async", refuse)
    response = client.post("/api/v1/syncs", {"entities": ["vendors"]})
    assert_error(response, "SERVICE_UNAVAILABLE")
    assert int(response["Retry-After"]) > 0 and b"6379" not in response.content
    # The run was committed before the broker was asked; the reaper sends it again later.
    assert SyncRun.objects.filter(connection=conn, trigger="api", status="queued").count() == 1


@pytest.mark.parametrize("raw", ['{"customer": {"name": "N\\u0000UL"}}', '{"name\\u0000": 1}',
                                 '{"a": "\\\\\\u0000"}'])
def test_it_refuses_nul_characters_in_bodies_on_every_database(admin, raw):
    error = assert_error(admin.post("/api/v1/connections", raw=raw), "INVALID_REQUEST")
    assert "NUL" in error["message"]


def test_it_refuses_nul_characters_in_query_strings(admin):
    assert_error(admin.get("/api/v1/connections", {"connector": "sand\x00box"}), "INVALID_REQUEST")


def test_it_accepts_an_escaped_backslash_before_u0000(admin):
    # JSON "\\u0000" is a backslash followed by the text u0000, not a NUL character.
    error = assert_error(admin.post("/api/v1/connections", raw='{"connector": "\\\\u0000"}'), "VALIDATION_FAILED")
    assert "connector" not in error["details"]["fields"]


def test_it_puts_a_request_id_on_every_api_response(api, anonymous, monkeypatch):
    responses = [api.get("/api/v1/connection"), anonymous.get("/api/v1/connection"), api.get("/api/v1/nope"),
                 api.client.put("/api/v1/connection"), api.client.get("/api/v1/openapi.json"),
                 api.client.get("/api/v1/docs")]
    ids = [response["X-Request-ID"] for response in responses]
    assert all(i.startswith("req_") for i in ids) and len(set(ids)) == len(ids)


def test_it_echoes_a_well_formed_incoming_request_id_in_the_envelope(anonymous):
    response = anonymous.get("/api/v1/connection", headers={"X-Request-ID": "client-abc-123"})
    assert assert_error(response, "AUTHENTICATION_FAILED")["request_id"] == "client-abc-123"


def test_it_leaves_pages_outside_the_api_alone(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "application/json" not in response.get("Content-Type", "")
