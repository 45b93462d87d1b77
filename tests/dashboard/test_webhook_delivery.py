import pytest

from core.models import AuditEvent
from tests.dashboard.factories import HTMX
from tests.webhooks.factories import AttemptFactory, DeliveryFactory
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db


def test_it_shows_every_attempt(viewer_client):
    delivery = DeliveryFactory(status=Delivery.Status.FAILED, attempts=2)
    AttemptFactory(delivery=delivery, number=1, status_code=503, response_snippet="try later")
    AttemptFactory(delivery=delivery, number=2, status_code=None, error="connection refused")
    response = viewer_client.get(f"/webhooks/deliveries/{delivery.pk}/")
    assert [a.number for a in response.context["delivery"].attempt_list] == [1, 2]
    body = response.content.decode()
    assert "try later" in body and "connection refused" in body and "no response" in body


def test_it_resends(operator_client):
    delivery = DeliveryFactory(status=Delivery.Status.FAILED)
    body = operator_client.post(f"/webhooks/deliveries/{delivery.pk}/resend", **HTMX).content.decode()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING and "Resend queued" in body
    assert AuditEvent.objects.filter(action="webhook_delivery.resent", actor="operator").exists()


def test_it_resends_without_javascript(operator_client):
    delivery = DeliveryFactory(status=Delivery.Status.FAILED)
    response = operator_client.post(f"/webhooks/deliveries/{delivery.pk}/resend")
    assert response.status_code == 302 and response["Location"] == f"/webhooks/deliveries/{delivery.pk}/"


def test_it_refuses_read_only_users(viewer_client):
    delivery = DeliveryFactory(status=Delivery.Status.FAILED)
    assert ">Resend</button>" not in viewer_client.get(f"/webhooks/deliveries/{delivery.pk}/").content.decode()
    assert viewer_client.post(f"/webhooks/deliveries/{delivery.pk}/resend").status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(viewer_client, django_assert_max_num_queries, rows):
    delivery = DeliveryFactory(status=Delivery.Status.FAILED)
    for i in range(rows):
        AttemptFactory(delivery=delivery, number=i + 1)
    with django_assert_max_num_queries(6):
        response = viewer_client.get(f"/webhooks/deliveries/{delivery.pk}/")
    assert len(response.context["delivery"].attempt_list) == rows
