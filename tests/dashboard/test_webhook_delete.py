"""Delete a webhook endpoint: a confirmation page (works without JavaScript), then the service."""

import pytest

from core.models import AuditEvent
from tests.dashboard.factories import HTMX
from tests.webhooks.factories import DeliveryFactory, EndpointFactory
from webhooks.models import Delivery, Endpoint, Event

pytestmark = pytest.mark.django_db


def url(endpoint) -> str:
    return f"/webhooks/{endpoint.pk}/delete"


def test_it_links_to_the_confirmation_from_the_endpoint_page(operator_client):
    endpoint = EndpointFactory()
    assert f'href="{url(endpoint)}">Delete…</a>' in operator_client.get(f"/webhooks/{endpoint.pk}/").content.decode()


def test_it_says_what_goes_with_it_before_anything_happens(operator_client):
    endpoint = EndpointFactory(url="https://hooks.example.com/old")
    DeliveryFactory.create_batch(2, endpoint=endpoint, status=Delivery.Status.SUCCEEDED)
    DeliveryFactory(endpoint=endpoint, status=Delivery.Status.PENDING)
    response = operator_client.get(url(endpoint))
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body and "https://hooks.example.com/old" in body
    assert "3 deliveries and their attempts, including 1 still pending" in body and "disable" in body
    assert f'action="{url(endpoint)}"' in body and ">Keep it</a>" in body
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()


def test_it_answers_htmx_with_the_confirmation_region(operator_client):
    body = operator_client.get(url(EndpointFactory()), **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="confirm">') and "<html" not in body


def test_it_deletes_and_tells_htmx_to_load_the_endpoint_list(operator_client):
    endpoint = EndpointFactory(url="https://hooks.example.com/old")
    delivery = DeliveryFactory(endpoint=endpoint)
    response = operator_client.post(url(endpoint), **HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == "/webhooks/"
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    # Its deliveries go in the background, after the request (tests/retention/test_endpoint_delete.py).
    assert Endpoint.all_objects.get(pk=endpoint.pk).deleted_at is not None
    assert Delivery.objects.filter(pk=delivery.pk).exists() and Event.objects.filter(pk=delivery.event_id).exists()
    body = operator_client.get("/webhooks/").content.decode()
    assert "Deleted the endpoint https://hooks.example.com/old" in body
    event = AuditEvent.objects.get(action="webhook_endpoint.deleted")
    assert (event.actor, event.details) == ("operator", {"url": "https://hooks.example.com/old"})


def test_it_redirects_after_a_plain_post(operator_client):
    endpoint = EndpointFactory()
    response = operator_client.post(url(endpoint), follow=True)
    assert response.redirect_chain == [("/webhooks/", 302)]
    assert "Deleted the endpoint" in response.content.decode() and not Endpoint.objects.exists()
    assert Endpoint.all_objects.filter(pk=endpoint.pk, deleted_at__isnull=False).exists()


def test_it_answers_404_once_deleted(operator_client):
    endpoint = EndpointFactory()
    operator_client.post(url(endpoint))
    assert operator_client.post(url(endpoint)).status_code == 404
    assert AuditEvent.objects.filter(action="webhook_endpoint.deleted").count() == 1


def test_it_hides_the_button_and_refuses_read_only_users(viewer_client):
    endpoint = EndpointFactory()
    assert url(endpoint) not in viewer_client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert viewer_client.get(url(endpoint)).status_code == 403
    assert viewer_client.post(url(endpoint)).status_code == 403
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(operator_client, django_assert_max_num_queries, rows):
    endpoint = EndpointFactory()
    DeliveryFactory.create_batch(rows, endpoint=endpoint, status=Delivery.Status.PENDING)
    with django_assert_max_num_queries(7):
        response = operator_client.get(url(endpoint))
    assert response.context["impact"]["deliveries"] == rows == response.context["impact"]["pending"]
