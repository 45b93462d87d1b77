"""Refusals of non-public targets, recorded on the attempt, without sending anything."""

import pytest

from tests.webhooks.factories import EndpointFactory
from webhooks import services
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db


def attempt_once(url: str) -> Delivery:
    endpoint = EndpointFactory(url=url)
    event = services.event_emit(type="sync.completed", data={})
    delivery = Delivery.objects.get(event=event, endpoint=endpoint)
    services.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def assert_refused(delivery: Delivery, reason: str):
    (attempt,) = delivery.attempt_set.all()
    assert attempt.error.startswith("Refused before connecting") and reason in attempt.error
    assert attempt.status_code is None and attempt.remote_address == ""
    # Retrying a refused address cannot succeed: the delivery fails at once and stays replayable.
    assert delivery.status == Delivery.Status.FAILED and delivery.next_attempt_at is None
    assert delivery.last_error == attempt.error


@pytest.mark.parametrize("host, reason", [
    ("127.0.0.1", "loopback"),
    ("[::1]", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("localhost", "loopback"),
])
def test_it_refuses_loopback_targets_that_are_not_allow_listed(receiver, production_settings, connect_spy, host,
                                                               reason):
    # A live receiver listens on 127.0.0.1: a refusal that came after connecting would show here.
    delivery = attempt_once(f"https://{host}:{receiver.port}/hook")

    assert_refused(delivery, reason)
    assert receiver.requests == [] and connect_spy.calls == []


@pytest.mark.parametrize("url, reason", [
    ("https://10.0.0.1/hook", "10.0.0.1 is a private address"),
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("https://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
])
def test_it_refuses_private_and_metadata_addresses_before_any_connect_or_lookup(production_settings, connect_spy,
                                                                                fake_dns, url, reason):
    delivery = attempt_once(url)

    assert_refused(delivery, reason)
    assert connect_spy.calls == [] and fake_dns.lookups == []


def test_it_refuses_a_hostname_that_resolves_to_a_private_address(production_settings, connect_spy, fake_dns):
    fake_dns.set("internal.example.com", ["10.1.2.3", "fd12::1"])

    delivery = attempt_once("https://internal.example.com/hook")

    assert_refused(delivery, "internal.example.com resolves to: 10.1.2.3 is a private address")
    assert fake_dns.lookups == ["internal.example.com"] and connect_spy.calls == []


def test_it_refuses_plain_http_to_a_public_address(production_settings, connect_spy, fake_dns):
    fake_dns.set("hooks.example.com", ["93.184.216.34"])

    delivery = attempt_once("http://hooks.example.com/hook")

    assert_refused(delivery, "plain http:// is only allowed")
    assert connect_spy.calls == []


def test_it_refuses_plain_http_to_loopback_unless_allow_listed(receiver, production_settings, connect_spy):
    delivery = attempt_once(f"http://localhost:{receiver.port}/hook")

    assert_refused(delivery, "loopback")
    assert connect_spy.calls == []


def test_it_refuses_to_create_endpoints_for_refused_literals_and_plain_http(production_settings):
    from core.audit import SYSTEM
    from core.errors import CatalogError

    for url in ("https://10.0.0.1/x", "https://169.254.169.254/", "http://hooks.example.com/x", "ftp://x.example/"):
        with pytest.raises(CatalogError) as caught:
            services.endpoint_create(url=url, actor=SYSTEM)
        assert caught.value.code == "VALIDATION_FAILED"
