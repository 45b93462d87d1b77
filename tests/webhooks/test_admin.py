import pytest
from django.urls import reverse

from core.models import AuditEvent
from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EndpointFactory
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


def test_it_never_shows_a_secret_on_the_endpoint_page(admin_client):
    endpoint = EndpointFactory(previous_secret="whsec_b2xkc2VjcmV0")

    body = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])).content.decode()

    assert endpoint.secret not in body and "whsec_b2xkc2VjcmV0" not in body
    assert "whsec_••••••••" in body


def test_it_offers_no_add_form_since_the_secret_must_be_shown_once(admin_client):
    assert admin_client.get(reverse("admin:webhooks_endpoint_add")).status_code == 403


def test_it_enables_and_disables_endpoints_through_the_services(admin_client, admin_user):
    endpoint = EndpointFactory()
    url = reverse("admin:webhooks_endpoint_changelist")

    admin_client.post(url, {"action": "disable_endpoints", "_selected_action": [endpoint.pk]})
    assert not Endpoint.objects.get(pk=endpoint.pk).enabled
    admin_client.post(url, {"action": "enable_endpoints", "_selected_action": [endpoint.pk]})
    assert Endpoint.objects.get(pk=endpoint.pk).enabled
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor", "source"))
    assert actions == [("webhook_endpoint.disabled", "root", "admin"), ("webhook_endpoint.enabled", "root", "admin")]


def test_it_resends_deliveries_from_the_list(admin_client):
    delivery = DeliveryFactory(status="failed", next_attempt_at=None)

    admin_client.post(reverse("admin:webhooks_delivery_changelist"),
                      {"action": "resend_deliveries", "_selected_action": [delivery.pk]})

    assert Delivery.objects.get(pk=delivery.pk).status == "pending"


def test_it_shows_a_delivery_with_its_attempts(admin_client):
    attempt = AttemptFactory(error="HTTP 503: not a 2xx answer.", response_snippet="try later")

    body = admin_client.get(reverse("admin:webhooks_delivery_change", args=[attempt.delivery_id])).content.decode()

    assert "HTTP 503: not a 2xx answer." in body and "try later" in body
