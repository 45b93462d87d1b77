import pytest

from tests.webhooks.receiver import Reply
from webhooks import transport


def post(url: str, **kwargs) -> transport.PostResult:
    return transport.webhook_post(url=url, body=b'{"hello": "world"}', headers={"webhook-id": "evt_1"}, **kwargs)


def test_it_posts_json_over_verified_tls_with_sni_and_host_of_the_hostname(receiver, webhook_settings, connect_spy):
    result = post(receiver.url("/in?x=1"))

    assert result.ok and result.status_code == 200 and result.error == ""
    assert result.response_snippet == '{"ok": true}'
    (request,) = receiver.requests
    assert request.path == "/in?x=1"
    assert request.body == b'{"hello": "world"}'
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert request.headers["user-agent"] == "PlantSync-Webhooks/1.0"
    assert request.headers["content-type"] == "application/json"
    # The certificate is for "localhost" and was checked against it: SNI carried the name
    # while the socket went to the pinned 127.0.0.1.
    assert receiver.sni_names == ["localhost"]
    assert connect_spy.addresses() == ["127.0.0.1"]
    assert result.remote_address == "127.0.0.1"


def test_it_fails_when_the_certificate_does_not_verify(receiver, webhook_settings):
    webhook_settings.WEBHOOK_CA_BUNDLE = ""  # the test CA is no longer trusted

    result = post(receiver.url())

    assert not result.ok and not result.refused
    assert "TLS certificate verification failed" in result.error
    assert receiver.requests == []


def test_it_fails_when_the_certificate_is_for_another_name(receiver, webhook_settings):
    result = post(receiver.url(host="127.0.0.1"))

    assert "TLS certificate verification failed" in result.error
    assert receiver.requests == []


def test_it_resolves_once_and_connects_to_that_address_even_if_dns_changes(receiver, webhook_settings, fake_dns,
                                                                          connect_spy):
    # A rebinding resolver: the first answer passes the policy, every later one is private.
    fake_dns.set("localhost", ["127.0.0.1"], ["10.0.0.1"])

    first = post(receiver.url())
    assert first.ok
    assert fake_dns.lookups == ["localhost"]
    assert connect_spy.addresses() == ["127.0.0.1"]

    transport.transports_reset()  # the cached answer expires
    second = post(receiver.url())
    assert second.refused and "10.0.0.1 is a private address" in second.error
    assert fake_dns.lookups == ["localhost", "localhost"]
    assert connect_spy.addresses() == ["127.0.0.1"]  # nothing new: refused before connecting
    assert len(receiver.requests) == 1


def test_it_connects_only_to_the_permitted_addresses_of_a_mixed_answer(receiver, webhook_settings, fake_dns,
                                                                      connect_spy):
    fake_dns.set("localhost", ["10.0.0.1", "169.254.169.254", "127.0.0.1"])

    assert post(receiver.url()).ok
    assert connect_spy.addresses() == ["127.0.0.1"]


def test_it_does_not_follow_redirects(receiver, webhook_settings):
    receiver.script(Reply(status=302, headers={"Location": "https://localhost/elsewhere"}))

    result = post(receiver.url())

    assert result.status_code == 302 and not result.ok
    assert result.location == "https://localhost/elsewhere"
    assert len(receiver.requests) == 1


def test_it_keeps_only_the_first_4_kb_of_the_response(receiver, webhook_settings):
    receiver.script(Reply(status=500, body=b"x" * 20000))

    result = post(receiver.url())

    assert result.status_code == 500
    assert result.response_snippet == "x" * 4096


def test_it_enforces_one_total_deadline_not_a_timeout_per_read(receiver, webhook_settings):
    # Each header byte arrives well within any per-read timeout, but the whole answer takes 4 s.
    receiver.script(Reply(drip=4.0))

    result = post(receiver.url(), timeout=1.0)

    assert result.status_code is None and "Timed out" in result.error
    assert 900 <= result.duration_ms < 3000


def test_it_times_out_a_receiver_slower_than_the_timeout(receiver, webhook_settings):
    receiver.script(Reply(delay=4.0))

    result = post(receiver.url(), timeout=1.0)

    assert "Timed out" in result.error
    assert 900 <= result.duration_ms < 3000


@pytest.mark.parametrize("value, expected", [("120", 120.0), (" 7 ", 7.0), ("soon", None), (None, None)])
def test_it_reads_retry_after_seconds(value, expected):
    assert transport._retry_after(value) == expected


def test_it_reads_retry_after_http_dates():
    import time
    from email.utils import formatdate

    assert 50 <= transport._retry_after(formatdate(time.time() + 60, usegmt=True)) <= 61


def test_it_caches_dns_answers_briefly_but_checks_them_on_every_attempt(receiver, webhook_settings, fake_dns,
                                                                       connect_spy):
    fake_dns.set("localhost", ["127.0.0.1"])

    assert post(receiver.url()).ok and post(receiver.url()).ok
    assert fake_dns.lookups == ["localhost"]

    webhook_settings.WEBHOOK_ALLOWED_NETWORKS = []  # the policy changes; the cached answer is checked again
    third = post(receiver.url())
    assert third.refused and "127.0.0.1 is a loopback address" in third.error
    assert len(receiver.requests) == 2
