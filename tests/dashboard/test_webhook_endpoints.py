from datetime import timedelta

import pytest
from django.utils import timezone

from tests.dashboard.factories import HTMX, connections
from tests.webhooks.factories import DeliveryFactory, EndpointFactory
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db


def test_it_says_how_to_add_an_endpoint_when_there_is_none(viewer_client):
    assert "No webhook endpoints yet" in viewer_client.get("/webhooks/").content.decode()


def test_it_lists_endpoints_with_their_24h_success_rate_and_state(viewer_client):
    good = EndpointFactory()
    failing = EndpointFactory(failing_since=timezone.now() - timedelta(hours=2))
    disabled = EndpointFactory(enabled=False, disabled_reason="410 Gone from the receiver")
    DeliveryFactory.create_batch(3, endpoint=good, status=Delivery.Status.SUCCEEDED)
    DeliveryFactory(endpoint=good, status=Delivery.Status.FAILED)
    response = viewer_client.get("/webhooks/")
    rates = {e.pk: e.success_rate_24h for e in response.context["page"].object_list}
    assert rates[good.pk] == 0.75 and rates[failing.pk] is None
    body = response.content.decode()
    assert "75.0 %" in body and "badge status-failing" in body and "410 Gone from the receiver" in body
    assert [e.pk for e in viewer_client.get("/webhooks/", {"state": "disabled"}).context["page"].object_list] == \
        [disabled.pk]


def test_it_answers_htmx_with_the_results_only(viewer_client):
    EndpointFactory()
    body = viewer_client.get("/webhooks/", **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="results">') and "<html" not in body


def test_it_lists_a_connections_endpoints_on_its_page(viewer_client):
    from tests.dashboard.factories import idle_connection

    connection = idle_connection()
    own = EndpointFactory(connection=connection, url="https://own.example.com/hook")
    EndpointFactory(connection=connections(1)[0], url="https://other.example.com/hook")
    EndpointFactory(url="https://global.example.com/hook")
    body = viewer_client.get(f"/connections/{connection.pk}/").content.decode()
    assert f"/webhooks/{own.pk}/" in body and "global.example.com" in body and "other.example.com" not in body


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(viewer_client, django_assert_max_num_queries, rows):
    conns = connections(3)
    endpoints = EndpointFactory.create_batch(min(rows, 60), connection=conns[0])
    for i in range(rows):
        DeliveryFactory(endpoint=endpoints[i % len(endpoints)], status=Delivery.Status.SUCCEEDED)
    with django_assert_max_num_queries(6):
        response = viewer_client.get("/webhooks/")
    assert len(response.context["page"].object_list) == min(rows, 50)
