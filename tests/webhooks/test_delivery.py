"""One attempt at a time: outcomes, the retry schedule, Retry-After, 410, and the claim."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.webhooks.factories import EndpointFactory
from tests.webhooks.receiver import Reply, unused_port
from webhooks import services
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


def emit_to(url: str) -> Delivery:
    endpoint = EndpointFactory(url=url)
    event = services.event_emit(type="sync.failed", data={"run": {"error_code": "UPSTREAM_UNREACHABLE"}})
    return Delivery.objects.select_related("endpoint").get(event=event, endpoint=endpoint)


def attempt(delivery: Delivery):
    result = services.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return result


def assert_retry_scheduled(delivery: Delivery, seconds: float):
    assert delivery.status == Delivery.Status.PENDING
    expected = timezone.now() + timedelta(seconds=seconds)
    assert abs((delivery.next_attempt_at - expected).total_seconds()) < 5


def test_it_marks_a_2xx_delivered(receiver, webhook_settings):
    receiver.script(Reply(status=204, body=b""))
    delivery = emit_to(receiver.url())

    result = attempt(delivery)

    assert result.number == 1 and result.status_code == 204 and result.error == ""
    assert delivery.status == Delivery.Status.SUCCEEDED and delivery.delivered_at is not None
    assert delivery.attempts == 1 and delivery.next_attempt_at is None
    assert delivery.last_status_code == 204 and delivery.last_latency_ms is not None
    assert Endpoint.objects.get(pk=delivery.endpoint_id).last_success_at is not None
    assert result.request_headers["webhook-id"] == str(delivery.event_id)
    assert result.request_body == receiver.requests[0].body.decode()


def test_it_retries_after_a_500_on_the_schedule(receiver, webhook_settings, clock):
    receiver.script(Reply(status=500, body=b"boom"), Reply(status=500))
    delivery = emit_to(receiver.url())

    first = attempt(delivery)
    assert first.status_code == 500 and "HTTP 500" in first.error and first.response_snippet == "boom"
    assert delivery.last_error == first.error
    assert_retry_scheduled(delivery, 30)
    assert Endpoint.objects.get(pk=delivery.endpoint_id).failing_since is not None

    assert attempt(delivery) is None, "not due yet: nothing is sent"
    assert len(receiver.requests) == 1

    clock.advance(30)
    assert attempt(delivery).number == 2
    assert_retry_scheduled(delivery, 120)
    clock.advance(120)
    assert attempt(delivery).status_code == 200
    assert delivery.status == Delivery.Status.SUCCEEDED and delivery.attempts == 3
    assert Endpoint.objects.get(pk=delivery.endpoint_id).failing_since is None


def test_it_retries_after_a_response_slower_than_the_timeout(receiver, webhook_settings, clock):
    webhook_settings.WEBHOOK_TIMEOUT_SECONDS = 1
    receiver.script(Reply(delay=4))
    delivery = emit_to(receiver.url())

    result = attempt(delivery)

    assert "Timed out" in result.error and result.status_code is None
    assert 900 <= result.duration_ms < 3000
    assert_retry_scheduled(delivery, 30)
    clock.advance(30)
    assert attempt(delivery).status_code == 200


def test_it_retries_after_a_refused_connection(webhook_settings, clock, receiver_factory):
    port = unused_port()
    delivery = emit_to(f"https://localhost:{port}/hook")

    result = attempt(delivery)

    assert result.error.startswith("Could not connect") and not result.error.startswith("Refused")
    assert_retry_scheduled(delivery, 30)
    receiver = receiver_factory(port=port)  # the receiver comes up
    clock.advance(30)
    assert attempt(delivery).status_code == 200
    assert len(receiver.requests) == 1


def test_it_treats_a_redirect_as_a_failure_and_retries(receiver, webhook_settings):
    receiver.script(Reply(status=301, headers={"Location": "https://localhost/new"}))
    delivery = emit_to(receiver.url())

    result = attempt(delivery)

    assert result.status_code == 301 and "redirects are not followed" in result.error
    assert "https://localhost/new" in result.error
    assert_retry_scheduled(delivery, 30)
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_it_honours_retry_after(receiver, webhook_settings, status):
    receiver.script(Reply(status=status, headers={"Retry-After": "900"}))
    delivery = emit_to(receiver.url())

    attempt(delivery)

    assert_retry_scheduled(delivery, 900)


def test_it_honours_a_retry_after_shorter_than_the_schedule(receiver, webhook_settings):
    receiver.script(Reply(status=429, headers={"Retry-After": "5"}))
    delivery = emit_to(receiver.url())

    attempt(delivery)

    assert_retry_scheduled(delivery, 5)


def test_it_ignores_retry_after_on_other_statuses(receiver, webhook_settings):
    receiver.script(Reply(status=500, headers={"Retry-After": "900"}))
    delivery = emit_to(receiver.url())

    attempt(delivery)

    assert_retry_scheduled(delivery, 30)


def test_it_disables_the_endpoint_on_410_gone(receiver, webhook_settings):
    receiver.script(Reply(status=410))
    delivery = emit_to(receiver.url())
    other = services.event_emit(type="sync.completed", data={})

    result = attempt(delivery)

    assert result.status_code == 410
    assert delivery.status == Delivery.Status.FAILED
    endpoint = Endpoint.objects.get(pk=delivery.endpoint_id)
    assert not endpoint.enabled and "410 Gone" in endpoint.disabled_reason and endpoint.disabled_at
    # Deliveries still owed to it are not sent once it is disabled.
    queued = Delivery.objects.get(event=other, endpoint=endpoint)
    assert services.delivery_attempt(delivery_id=queued.pk) is None
    queued.refresh_from_db()
    assert queued.status == Delivery.Status.FAILED and "disabled" in queued.last_error
    assert len(receiver.requests) == 1
    from core.models import AuditEvent

    assert AuditEvent.objects.filter(action="webhook_endpoint.disabled", target_id=str(endpoint.pk)).exists()


def test_it_fails_for_good_after_the_last_scheduled_retry(receiver, webhook_settings, clock):
    webhook_settings.WEBHOOK_RETRY_SCHEDULE = [10, 20]
    receiver.default = Reply(status=500)
    delivery = emit_to(receiver.url())

    for wait in (0, 10, 20):
        clock.advance(wait)
        assert attempt(delivery) is not None
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts == 3
    assert delivery.next_attempt_at is None
    clock.advance(3600)
    assert attempt(delivery) is None
    assert len(receiver.requests) == 3


def test_it_keeps_the_webhook_id_and_refreshes_the_timestamp_on_each_retry(receiver, webhook_settings, clock):
    receiver.script(Reply(status=500), Reply(status=503))
    delivery = emit_to(receiver.url())

    attempt(delivery)
    clock.advance(30)
    attempt(delivery)
    clock.advance(120)
    attempt(delivery)

    ids = [r.headers["webhook-id"] for r in receiver.requests]
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests]
    signatures = [r.headers["webhook-signature"] for r in receiver.requests]
    assert ids == [str(delivery.event_id)] * 3
    assert stamps[1] - stamps[0] >= 30 and stamps[2] - stamps[1] >= 120
    assert len(set(signatures)) == 3
    assert {r.body for r in receiver.requests} == {receiver.requests[0].body}


def test_it_does_nothing_for_a_delivery_that_is_not_pending(receiver, webhook_settings):
    delivery = emit_to(receiver.url())
    attempt(delivery)
    assert delivery.status == Delivery.Status.SUCCEEDED

    assert attempt(delivery) is None
    assert len(receiver.requests) == 1


def test_it_does_nothing_while_another_worker_holds_the_delivery(receiver, webhook_settings):
    delivery = emit_to(receiver.url())
    Delivery.objects.filter(pk=delivery.pk).update(locked_until=timezone.now() + timedelta(seconds=60))

    assert attempt(delivery) is None
    assert receiver.requests == [] and delivery.status == Delivery.Status.PENDING


def test_it_does_nothing_for_a_delivery_that_no_longer_exists(webhook_settings):
    assert services.delivery_attempt(delivery_id=987654321) is None


def test_it_sends_nothing_unsigned_when_the_secret_is_unusable(receiver, webhook_settings):
    delivery = emit_to(receiver.url())
    Endpoint.objects.filter(pk=delivery.endpoint_id).update(secret="whsec_not base64!")

    result = attempt(delivery)

    assert "secret is unusable" in result.error and delivery.status == Delivery.Status.FAILED
    assert receiver.requests == []
