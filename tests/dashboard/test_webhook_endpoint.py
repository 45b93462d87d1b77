"""An endpoint's page and its buttons: test event, replay, rotate secret, enable/disable."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from tests.dashboard.factories import HTMX
from tests.webhooks.factories import DeliveryFactory, EndpointFactory
from webhooks.models import Delivery, Endpoint, Event

pytestmark = pytest.mark.django_db


def test_it_shows_deliveries_filterable_to_failed(viewer_client):
    endpoint = EndpointFactory()
    ok = DeliveryFactory(endpoint=endpoint, status=Delivery.Status.SUCCEEDED)
    failed = DeliveryFactory(endpoint=endpoint, status=Delivery.Status.FAILED, last_error="HTTP 500")
    everything = viewer_client.get(f"/webhooks/{endpoint.pk}/").context["deliveries"].rows
    only_failed = viewer_client.get(f"/webhooks/{endpoint.pk}/", {"status": "failed"}).context["deliveries"].rows
    assert {d.pk for d in everything} == {ok.pk, failed.pk}
    assert [d.pk for d in only_failed] == [failed.pk]


def test_it_never_shows_the_signing_secret(viewer_client):
    endpoint = EndpointFactory(secret="whsec_do-not-show")
    assert "whsec_do-not-show" not in viewer_client.get(f"/webhooks/{endpoint.pk}/").content.decode()


def test_it_swaps_only_the_deliveries_for_the_tabs(viewer_client):
    endpoint = EndpointFactory()
    body = viewer_client.get(f"/webhooks/{endpoint.pk}/", {"status": "failed"}, **HTMX,
                             HTTP_HX_TARGET="deliveries").content.decode()
    assert body.lstrip().startswith('<section id="deliveries">')


def test_it_sends_a_test_event(operator_client):
    endpoint = EndpointFactory()
    body = operator_client.post(f"/webhooks/{endpoint.pk}/test", **HTMX).content.decode()
    assert Event.objects.get().type == "webhook.test"
    assert Delivery.objects.get().endpoint_id == endpoint.pk
    assert "Test event queued" in body and "webhook.test" in body
    assert AuditEvent.objects.filter(action="webhook_endpoint.test_sent", actor="operator").exists()


def test_it_replays_failed_deliveries_since_a_time(operator_client):
    endpoint = EndpointFactory()
    DeliveryFactory.create_batch(2, endpoint=endpoint, status=Delivery.Status.FAILED)
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    body = operator_client.post(f"/webhooks/{endpoint.pk}/replay", {"since": since}, **HTMX).content.decode()
    assert "Replaying 2 failed deliveries" in body
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_it_asks_for_the_replay_time(operator_client):
    endpoint = EndpointFactory()
    body = operator_client.post(f"/webhooks/{endpoint.pk}/replay", {"since": ""}, **HTMX).content.decode()
    assert "VALIDATION_FAILED" in body


def test_it_refuses_to_replay_on_a_disabled_endpoint_with_the_catalogued_error(operator_client):
    endpoint = EndpointFactory(enabled=False)
    since = timezone.now().strftime("%Y-%m-%dT%H:%M")
    response = operator_client.post(f"/webhooks/{endpoint.pk}/replay", {"since": since}, follow=True)
    assert "INVALID_REQUEST" in response.content.decode() and "enable it before replaying" in response.content.decode()


def test_it_rotates_the_secret_and_shows_it_once(operator_client):
    endpoint = EndpointFactory()
    old = endpoint.secret
    response = operator_client.post(f"/webhooks/{endpoint.pk}/rotate-secret", **HTMX)
    body = response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in body and "no-store" in response["Cache-Control"]
    assert endpoint.secret not in operator_client.get(f"/webhooks/{endpoint.pk}/").content.decode()


def test_it_disables_and_enables(operator_client):
    endpoint = EndpointFactory()
    operator_client.post(f"/webhooks/{endpoint.pk}/disable", {"reason": "receiver moving"}, **HTMX)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "receiver moving"
    response = operator_client.post(f"/webhooks/{endpoint.pk}/enable", follow=True)
    assert Endpoint.objects.get(pk=endpoint.pk).enabled and "Enabled." in response.content.decode()


def test_it_hides_buttons_and_refuses_read_only_users(viewer_client):
    endpoint = EndpointFactory()
    body = viewer_client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert "Send test event" not in body and "Rotate secret" not in body and "Replay failed" not in body
    for action in ("test", "rotate-secret", "enable", "disable", "replay"):
        assert viewer_client.post(f"/webhooks/{endpoint.pk}/{action}").status_code == 403, action
    assert not Event.objects.exists()


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(operator_client, django_assert_max_num_queries, rows):
    endpoint = EndpointFactory()
    DeliveryFactory.create_batch(rows, endpoint=endpoint, status=Delivery.Status.FAILED)
    with django_assert_max_num_queries(7):  # 6, and the charts' one over the range's deliveries
        response = operator_client.get(f"/webhooks/{endpoint.pk}/")
    assert len(response.context["deliveries"].rows) == min(rows, 50)
