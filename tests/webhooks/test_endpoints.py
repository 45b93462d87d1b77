"""Endpoint management, resend and replay: the actions ops take, each audited."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.audit import Actor
from core.errors import CatalogError
from core.models import AuditEvent
from tests.connections.factories import ConnectionFactory
from tests.webhooks.factories import DeliveryFactory, EndpointFactory
from webhooks import dispatch, services
from webhooks.models import Delivery, Endpoint, Event

pytestmark = pytest.mark.django_db

OPS = Actor(name="ops@example.com", source=AuditEvent.Source.DASHBOARD, request_id="req_1")


def audited(action: str, target) -> AuditEvent:
    return AuditEvent.objects.get(action=action, target_id=str(target.pk))


def test_it_creates_an_endpoint_and_returns_its_secret_once():
    conn = ConnectionFactory()

    endpoint, secret = services.endpoint_create(url="https://hooks.example.com/in", actor=OPS, description="ERP app",
                                                event_types=["sync.failed", "sync.failed"], connection=conn)

    assert secret.startswith("whsec_") and Endpoint.objects.get(pk=endpoint.pk).secret == secret
    assert endpoint.event_types == ["sync.failed"] and endpoint.connection == conn and endpoint.enabled
    event = audited("webhook_endpoint.created", endpoint)
    assert event.actor == "ops@example.com" and event.request_id == "req_1" and event.connection == conn
    assert secret not in str(event.details)


@pytest.mark.parametrize("url", ["", "hooks.example.com", "https://", "https://10.0.0.1/x",
                                 "http://hooks.example.com/"])
def test_it_refuses_bad_urls(url):
    with pytest.raises(CatalogError) as caught:
        services.endpoint_create(url=url, actor=OPS)
    assert caught.value.code == "VALIDATION_FAILED" and "url" in caught.value.details["fields"]


def test_it_refuses_unknown_event_types():
    with pytest.raises(CatalogError) as caught:
        services.endpoint_create(url="https://hooks.example.com/", actor=OPS, event_types=["sync.done"])
    assert "unknown: sync.done" in caught.value.details["fields"]["event_types"]


def test_it_updates_only_what_changed():
    endpoint = EndpointFactory(description="old")

    services.endpoint_update(endpoint=endpoint, actor=OPS, description="new", event_types=["incident.opened"],
                             url=endpoint.url)

    endpoint.refresh_from_db()
    assert endpoint.description == "new" and endpoint.event_types == ["incident.opened"]
    assert audited("webhook_endpoint.updated", endpoint).details == {
        "description": "new", "event_types": ["incident.opened"]}


def test_it_moves_an_endpoint_between_a_connection_scope_and_global():
    conn = ConnectionFactory()
    endpoint = EndpointFactory()

    services.endpoint_update(endpoint=endpoint, actor=OPS, connection=conn)
    assert Endpoint.objects.get(pk=endpoint.pk).connection == conn
    services.endpoint_update(endpoint=endpoint, actor=OPS, connection=None)
    assert Endpoint.objects.get(pk=endpoint.pk).connection is None


def test_it_deletes_an_endpoint_with_its_deliveries_but_keeps_events(django_capture_on_commit_callbacks,
                                                                     celery_eager):
    delivery = DeliveryFactory()
    endpoint = delivery.endpoint

    # The deliveries go in the purge task, after the commit (tests/retention/test_endpoint_delete.py).
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_delete(endpoint=endpoint, actor=OPS)

    assert not Endpoint.all_objects.exists() and not Delivery.objects.exists()
    assert Event.objects.filter(pk=delivery.event_id).exists()
    assert AuditEvent.objects.filter(action="webhook_endpoint.deleted").exists()


def test_it_disables_and_re_enables_an_endpoint_with_a_fresh_failure_window():
    endpoint = EndpointFactory(failing_since=timezone.now() - timedelta(days=1))

    services.endpoint_disable(endpoint=endpoint, actor=OPS, reason="Receiver migration")
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "Receiver migration"
    assert services.event_emit(type="sync.completed", data={}).deliveries.count() == 0

    services.endpoint_enable(endpoint=endpoint, actor=OPS)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_at is None and endpoint.failing_since is None
    assert [e.action for e in AuditEvent.objects.order_by("id")] == ["webhook_endpoint.disabled",
                                                                     "webhook_endpoint.enabled"]


def test_it_rotates_the_secret_keeping_the_previous_one_for_the_rollover(settings):
    endpoint, old = services.endpoint_create(url="https://hooks.example.com/", actor=OPS)

    new = services.endpoint_secret_rotate(endpoint=endpoint, actor=OPS)

    endpoint.refresh_from_db()
    assert endpoint.secret == new and endpoint.previous_secret == old and new != old
    expected = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_ROLLOVER_HOURS)
    assert abs((endpoint.previous_secret_expires_at - expected).total_seconds()) < 5
    assert services.endpoint_signing_secrets(endpoint=endpoint, at=timezone.now()) == [new, old]
    assert services.endpoint_signing_secrets(endpoint=endpoint, at=expected + timedelta(seconds=5)) == [new]
    assert new not in str(audited("webhook_endpoint.secret_rotated", endpoint).details)


def test_it_sends_a_test_event_to_that_endpoint_only(receiver, webhook_settings, django_capture_on_commit_callbacks):
    endpoint = EndpointFactory(url=receiver.url(), enabled=False)
    EndpointFactory()  # subscribed to everything, but a test send is for one endpoint

    with dispatch.deliveries_run_locally(lambda delivery_id, _: services.delivery_attempt(delivery_id=delivery_id)):
        with django_capture_on_commit_callbacks(execute=True):
            event = services.endpoint_send_test(endpoint=endpoint, actor=OPS)

    assert event.type == "webhook.test" and event.payload["data"]["endpoint_id"] == endpoint.pk
    assert list(event.deliveries.values_list("endpoint", "status")) == [(endpoint.pk, "succeeded")]
    assert len(receiver.requests) == 1  # sent although the endpoint is disabled, to check it
    assert audited("webhook_endpoint.test_sent", endpoint).details == {"event_id": str(event.id)}


def test_it_resends_a_delivery_with_a_fresh_retry_schedule(django_capture_on_commit_callbacks):
    delivery = DeliveryFactory(status="failed", attempts=10, chain_attempts=10, next_attempt_at=None)
    enqueued = []

    with dispatch.deliveries_run_locally(lambda delivery_id, _: enqueued.append(delivery_id)):
        with django_capture_on_commit_callbacks(execute=True):
            services.delivery_resend(delivery=delivery, actor=OPS)

    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.chain_attempts == 0 and delivery.attempts == 10
    assert delivery.next_attempt_at is not None and enqueued == [delivery.pk]
    assert audited("webhook_delivery.resent", delivery).details["previous_status"] == "failed"


def test_it_refuses_to_resend_to_a_disabled_endpoint():
    delivery = DeliveryFactory(status="failed", endpoint=EndpointFactory(enabled=False))

    with pytest.raises(CatalogError) as caught:
        services.delivery_resend(delivery=delivery, actor=OPS)
    assert caught.value.code == "INVALID_REQUEST"


def test_it_replays_the_failed_deliveries_since_a_time(django_capture_on_commit_callbacks):
    endpoint = EndpointFactory()
    recent = [DeliveryFactory(endpoint=endpoint, status="failed", next_attempt_at=None) for _ in range(3)]
    old = DeliveryFactory(endpoint=endpoint, status="failed", next_attempt_at=None)
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    done = DeliveryFactory(endpoint=endpoint, status="succeeded")
    elsewhere = DeliveryFactory(status="failed")
    enqueued = []

    with dispatch.deliveries_run_locally(lambda delivery_id, _: enqueued.append(delivery_id)):
        with django_capture_on_commit_callbacks(execute=True):
            count = services.deliveries_replay_failed_since(endpoint=endpoint, since=timezone.now() - timedelta(days=1),
                                                            actor=OPS)

    assert count == 3 and sorted(enqueued) == sorted(d.pk for d in recent)
    assert set(Delivery.objects.filter(pk__in=enqueued).values_list("status", "chain_attempts")) == {("pending", 0)}
    for untouched, status in ((old, "failed"), (done, "succeeded"), (elsewhere, "failed")):
        assert Delivery.objects.get(pk=untouched.pk).status == status
    assert audited("webhook_endpoint.replayed", endpoint).details["deliveries"] == 3


@pytest.mark.parametrize("url", ["https://user:pass@hooks.example.com/in", "https://user@hooks.example.com/in",
                                 "https://:pass@hooks.example.com/in", "https://@hooks.example.com/in"])
def test_it_refuses_urls_with_a_user_name_or_password(url):
    with pytest.raises(CatalogError) as caught:
        services.endpoint_create(url=url, actor=OPS)
    assert caught.value.code == "VALIDATION_FAILED" and "user name or password" in caught.value.details["fields"]["url"]
    assert not Endpoint.objects.exists()


def test_it_refuses_an_update_to_a_url_with_a_password():
    endpoint = EndpointFactory()
    url = endpoint.url
    with pytest.raises(CatalogError) as caught:
        services.endpoint_update(endpoint=endpoint, actor=OPS, url="https://user:pass@hooks.example.com/in")
    assert set(caught.value.details["fields"]) == {"url"}
    assert Endpoint.objects.get(pk=endpoint.pk).url == url


def test_it_keeps_an_at_sign_in_the_path():
    endpoint, _ = services.endpoint_create(url="https://hooks.example.com/in/@team", actor=OPS)
    assert endpoint.url == "https://hooks.example.com/in/@team"


def _nested_list(levels: int) -> list:
    value = "sync.failed"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("event_types, problem", [
    ([["sync.failed"]], "a list of event type names"),
    ([{"a": {"b": 1}}], "a list of event type names"),
    (["sync.failed", _nested_list(40)], "nested deeper than 32 levels"),
])
def test_it_refuses_event_types_that_are_not_names(event_types, problem):
    with pytest.raises(CatalogError) as caught:
        services.endpoint_create(url="https://hooks.example.com/", actor=OPS, event_types=event_types)
    assert caught.value.details["fields"] == {"event_types": problem}
    assert not Endpoint.objects.exists()
