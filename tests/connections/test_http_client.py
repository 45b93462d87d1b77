"""The upstream HTTP client against a real server on loopback (connections/connectors/http.py)."""

import logging
import time
from decimal import Decimal
from email.utils import formatdate

import pytest

from connections.connectors.base import UpstreamError
from connections.connectors.http import USER_AGENT, BasicAuth, UpstreamClient, retry_after_parse
from connections.connectors.outbound import address_refusal
from core.netpolicy import address_normalize
from tests.upstreams.server import Reply, ScriptedServer

PASSWORD = "hunter2-very-secret"


@pytest.fixture
def upstream():
    with ScriptedServer() as server:
        yield server


def failure(client, path, **kwargs) -> UpstreamError:
    with pytest.raises(UpstreamError) as info:
        client.json("GET", path, **kwargs)
    return info.value


def test_it_sends_the_user_agent_and_parses_fractions_as_decimals(upstream):
    upstream.route("GET", "/items", Reply(200, '{"qty": 1.10, "n": 3}', {"Content-Type": "application/json"}))
    with UpstreamClient(base_url=upstream.url) as client:
        assert client.json("GET", "/items") == {"qty": Decimal("1.10"), "n": 3}
    assert upstream.received[0].headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("PlantSync/") and "(+https://github.com/plantsync)" in USER_AGENT


@pytest.mark.parametrize("status, code, retryable", [
    (401, "UPSTREAM_AUTHENTICATION_FAILED", False),
    (403, "UPSTREAM_PERMISSION_DENIED", False),
    (404, "UPSTREAM_NOT_FOUND", False),
    (400, "UPSTREAM_REQUEST_REJECTED", False),
    (302, "UPSTREAM_REQUEST_REJECTED", False),
    (408, "UPSTREAM_SERVER_ERROR", True),
    (500, "UPSTREAM_SERVER_ERROR", True),
    (502, "UPSTREAM_SERVER_ERROR", True),
    (503, "UPSTREAM_SERVER_ERROR", True),
    (429, "UPSTREAM_RATE_LIMITED", True),
])
def test_it_maps_each_status_to_a_catalogued_code(upstream, status, code, retryable):
    upstream.route("GET", "/x", Reply(status, {"detail": "nope"}, {"Location": "https://elsewhere/"}))
    error = failure(UpstreamClient(base_url=upstream.url), "/x")
    assert (error.code, error.retryable) == (code, retryable)
    assert error.details["status"] == status and "nope" in error.details["body"]


def test_it_names_the_resource_of_a_404(upstream):
    client = UpstreamClient(base_url=upstream.url)
    error = failure(client, "/sap/opu/odata/sap/API_X", resource="API_X (purchase orders)")
    assert error.code == "UPSTREAM_NOT_FOUND" and "API_X (purchase orders)" in error.message
    assert error.details["resource"] == "API_X (purchase orders)"


def test_it_reads_retry_after_in_seconds(upstream):
    upstream.route("GET", "/x", Reply(429, "", {"Retry-After": "7"}))
    assert failure(UpstreamClient(base_url=upstream.url), "/x").retry_after == 7


def test_it_reads_retry_after_as_an_http_date(upstream):
    upstream.route("GET", "/x", Reply(429, "", {"Retry-After": formatdate(time.time() + 120, usegmt=True)}))
    assert 100 <= failure(UpstreamClient(base_url=upstream.url), "/x").retry_after <= 121
    assert retry_after_parse("soon") is None and retry_after_parse(formatdate(0, usegmt=True)) == 0


def test_it_reads_retry_after_of_a_503(upstream):
    upstream.route("GET", "/x", Reply(503, "<html>down</html>", {"Retry-After": "30", "Content-Type": "text/html"}))
    error = failure(UpstreamClient(base_url=upstream.url), "/x")
    assert (error.code, error.retry_after, error.details["body"]) == ("UPSTREAM_SERVER_ERROR", 30, "<html>down</html>")


def test_it_refuses_an_html_page_where_json_was_expected(upstream):
    page = "<html><head><title>Proxy login</title></head><body>" + "x" * 500 + "</body></html>"
    upstream.route("GET", "/x", Reply(200, page, {"Content-Type": "text/html; charset=utf-8"}))
    error = failure(UpstreamClient(base_url=upstream.url), "/x")
    assert error.code == "UPSTREAM_INVALID_RESPONSE" and error.retryable
    assert "text/html" in error.message
    assert error.details["body"].startswith("<html><head><title>Proxy login") and len(error.details["body"]) == 200


@pytest.mark.parametrize("body", ['{"d": {"results": [', ""])
def test_it_refuses_truncated_or_empty_json(upstream, body):
    upstream.route("GET", "/x", Reply(200, body, {"Content-Type": "application/json"}))
    error = failure(UpstreamClient(base_url=upstream.url), "/x")
    assert error.code == "UPSTREAM_INVALID_RESPONSE" and error.details["body"] == body


def test_it_takes_the_message_from_the_connectors_parser(upstream):
    upstream.route("GET", "/x", Reply(400, {"error": {"code": "X/1", "message": {"value": "Property Foo invalid"}}}))
    client = UpstreamClient(base_url=upstream.url,
                            error_message=lambda r: r.json().get("error", {}).get("message", {}).get("value"))
    assert failure(client, "/x").message == "Property Foo invalid"


def test_it_falls_back_to_a_generic_message_when_the_parser_fails(upstream):
    upstream.route("GET", "/x", Reply(500, "<html>oops</html>"))
    client = UpstreamClient(base_url=upstream.url, error_message=lambda r: r.json()["error"])
    assert failure(client, "/x").message == "The upstream system answered with an error (HTTP 500)."


def test_it_redacts_secrets_from_messages_details_and_logs(upstream, caplog):
    echo = f"login failed for admin:{PASSWORD} with key sk_live_abcdef123456"
    upstream.route("GET", "/x", lambda req: Reply(401, {"message": echo, "auth": req.headers["Authorization"]}))
    client = UpstreamClient(base_url=upstream.url, auth=BasicAuth("admin", PASSWORD), secrets=["sk_live_abcdef123456"],
                            error_message=lambda r: r.json()["message"] + " " + r.json()["auth"])
    with caplog.at_level(logging.DEBUG, logger="connections.connectors"):
        error = failure(client, "/x?password=" + PASSWORD)
    assert error.code == "UPSTREAM_AUTHENTICATION_FAILED"
    authorization = upstream.received[0].headers["Authorization"]
    text = f"{error.message} {error.details} {caplog.text}"
    assert "[redacted]" in error.message and "[redacted]" in error.details["body"]
    for secret in (PASSWORD, "sk_live_abcdef123456", authorization, authorization.split()[1]):
        assert secret not in text
    assert "upstream" in caplog.text


def test_it_times_out_on_a_slow_server(upstream, settings):
    settings.UPSTREAM_TIMEOUT_SECONDS = 0.3
    upstream.route("GET", "/slow", Reply(200, {}, delay=1.5))
    started = time.monotonic()
    error = failure(UpstreamClient(base_url=upstream.url), "/slow")
    assert time.monotonic() - started < 1.2
    assert error.code == "UPSTREAM_SERVER_ERROR" and error.retryable and "0.3 s" in error.message


def test_it_reports_a_closed_port_as_unreachable():
    error = failure(UpstreamClient(base_url="http://127.0.0.1:1"), "/x")
    assert error.code == "UPSTREAM_UNREACHABLE" and error.retryable


def test_it_reports_a_name_that_does_not_resolve_as_unreachable():
    error = failure(UpstreamClient(base_url="http://erp.plantsync-test.invalid"), "/x")
    assert error.code == "UPSTREAM_UNREACHABLE" and "could not be resolved" in error.message


def test_it_allows_loopback_and_names_resolved(upstream):
    upstream.route("GET", "/x", Reply(200, {"ok": True}))
    port = upstream.url.rsplit(":", 1)[1]
    assert UpstreamClient(base_url=f"http://localhost:{port}").json("GET", "/x") == {"ok": True}
    assert UpstreamClient(base_url=upstream.url).json("GET", "/x") == {"ok": True}


def test_it_refuses_the_metadata_address_before_connecting(settings):
    settings.UPSTREAM_TIMEOUT_SECONDS = 0.3
    error = failure(UpstreamClient(base_url="http://169.254.169.254"), "/latest/meta-data/")
    assert error.code == "UPSTREAM_ADDRESS_REFUSED" and not error.retryable
    assert "169.254.169.254 is a cloud metadata address" in error.message


def test_it_allows_the_metadata_address_when_listed(settings):
    settings.UPSTREAM_TIMEOUT_SECONDS = 0.3
    settings.UPSTREAM_ALLOWED_NETWORKS = ["169.254.0.0/16"]
    # Whatever answers there (nothing, or a sandbox's proxy), a connection was attempted.
    error = failure(UpstreamClient(base_url="http://169.254.169.254"), "/latest/meta-data/")
    assert error.code != "UPSTREAM_ADDRESS_REFUSED"


def test_it_refuses_blocked_networks(upstream, settings):
    settings.UPSTREAM_BLOCKED_NETWORKS = ["127.0.0.0/8"]
    error = failure(UpstreamClient(base_url=upstream.url), "/x")
    assert error.code == "UPSTREAM_ADDRESS_REFUSED" and "UPSTREAM_BLOCKED_NETWORKS" in error.message
    assert upstream.received == []


@pytest.mark.parametrize("address, refused", [
    ("169.254.10.1", "link-local"), ("fe80::1", "link-local"), ("fd00:ec2::254", "cloud metadata"),
    ("::ffff:169.254.169.254", "cloud metadata"), ("64:ff9b::a9fe:a9fe", "embedding 169.254.169.254"),
    ("10.0.0.5", None), ("192.168.1.10", None), ("127.0.0.1", None), ("::1", None), ("fc00::1", None),
    ("8.8.8.8", None),
])
def test_it_applies_the_upstream_address_rules(address, refused):
    reason = address_refusal(address_normalize(address))
    assert reason is None if refused is None else refused in reason
