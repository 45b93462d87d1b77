from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import CatalogError
from tests.connections.factories import ConnectionFactory
from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EndpointFactory
from webhooks import selectors
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db


def test_it_lists_endpoints_with_their_24h_success_rate_in_one_query(django_assert_num_queries):
    busy, idle = EndpointFactory(), EndpointFactory(connection=ConnectionFactory())
    for status in ("succeeded", "succeeded", "succeeded", "failed", "pending"):
        DeliveryFactory(endpoint=busy, status=status)
    old = DeliveryFactory(endpoint=busy, status="failed")
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    for _ in range(3):
        EndpointFactory()

    with django_assert_num_queries(1):
        rows = {endpoint.pk: endpoint for endpoint in selectors.endpoint_list()}
        str(rows[idle.pk].connection)  # the scope is loaded with it

    assert len(rows) == 5
    assert (rows[busy.pk].deliveries_24h, rows[busy.pk].succeeded_24h, rows[busy.pk].failed_24h,
            rows[busy.pk].pending_24h) == (5, 3, 1, 1)
    assert rows[busy.pk].success_rate_24h == pytest.approx(0.75)
    assert rows[idle.pk].deliveries_24h == 0 and rows[idle.pk].success_rate_24h is None


def test_it_filters_endpoints_by_connection_and_state():
    conn = ConnectionFactory()
    scoped = EndpointFactory(connection=conn)
    EndpointFactory(connection=conn, enabled=False)
    EndpointFactory()

    assert list(selectors.endpoint_list(connection=conn, enabled=True)) == [scoped]


def test_it_lists_an_endpoints_deliveries_newest_first_by_status():
    endpoint = EndpointFactory()
    first = DeliveryFactory(endpoint=endpoint, status="failed")
    DeliveryFactory(endpoint=endpoint, status="succeeded")
    last = DeliveryFactory(endpoint=endpoint, status="failed")
    DeliveryFactory(status="failed")

    assert list(selectors.delivery_list(endpoint=endpoint, status="failed")) == [last, first]
    assert selectors.delivery_list(endpoint=endpoint).count() == 3
    with pytest.raises(CatalogError):
        selectors.delivery_list(endpoint=endpoint, status="lost")


def test_it_returns_a_delivery_with_its_attempts_in_order(django_assert_num_queries):
    delivery = DeliveryFactory()
    AttemptFactory(delivery=delivery, number=2, status_code=200, error="")
    AttemptFactory(delivery=delivery, number=1)

    with django_assert_num_queries(2):
        detail = selectors.delivery_detail(delivery_id=delivery.pk)
        numbers = [a.number for a in detail.attempt_list]
        assert detail.event.type and detail.endpoint.url

    assert numbers == [1, 2] and detail.attempt_list[1].succeeded and not detail.attempt_list[0].succeeded
    with pytest.raises(CatalogError) as caught:
        selectors.delivery_detail(delivery_id=delivery.pk + 1000)
    assert caught.value.code == "NOT_FOUND"
