import logging

import pytest

from core.api_keys import api_key_create
from core.audit import Actor
from core.logcontext import LogContextFilter, current_request_id

pytestmark = pytest.mark.django_db


def test_it_adds_a_request_id_to_every_response(client):
    for path in ("/healthz", "/login/", "/", "/no-such-page"):
        assert client.get(path)["X-Request-ID"].startswith("req_")


def test_it_keeps_a_well_formed_incoming_request_id(client):
    assert client.get("/login/", HTTP_X_REQUEST_ID="abc-123456")["X-Request-ID"] == "abc-123456"
    assert client.get("/login/", HTTP_X_REQUEST_ID="bad id <script>")["X-Request-ID"].startswith("req_")


@pytest.fixture
def logged(caplog):
    """caplog, its records given the ids the LOGGING filter adds as each line is written."""
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(LogContextFilter())
    return caplog


@pytest.fixture
def admin_key():
    return api_key_create(name="ops", actor=Actor(name="tester", source="cli"))[1]


def test_it_resets_the_request_id_after_the_response(client, logged):
    assert client.get("/login/", HTTP_X_REQUEST_ID="req_first_123456")["X-Request-ID"] == "req_first_123456"
    assert current_request_id() == ""
    logging.getLogger("tests").info("after the request")
    assert logged.records[-1].request_id == "-"


@pytest.mark.parametrize("path", ["/no-such-page", "/api/v1/connections/00000000-0000-4000-8000-000000000000"])
def test_it_logs_djangos_not_found_line_with_the_requests_id(client, admin_key, logged, path):
    # Django logs "Not Found" after the whole middleware chain has returned, raised 404 or not.
    response = client.get(path, HTTP_X_REQUEST_ID="req_missing_123456", HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    assert response.status_code == 404
    lines = [r for r in logged.records if r.name == "django.request"]
    assert [(r.getMessage(), r.request_id) for r in lines] == [(f"Not Found: {path}", "req_missing_123456")]


def test_it_logs_each_requests_lines_with_its_own_id(client, logged):
    client.get("/api/v1/connections", HTTP_X_REQUEST_ID="req_one_123456")
    client.get("/api/v1/connections", HTTP_X_REQUEST_ID="req_two_123456")
    lines = [(r.getMessage(), r.request_id) for r in logged.records if r.name == "django.request"]
    assert lines == [("Unauthorized: /api/v1/connections", "req_one_123456"),
                     ("Unauthorized: /api/v1/connections", "req_two_123456")]
