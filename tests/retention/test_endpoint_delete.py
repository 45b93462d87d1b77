"""Deleting a webhook endpoint: the request marks it deleted (gone from every list, nothing more
sent to it) and queues the purge; the purge task deletes its deliveries and attempts in
batches, then the row. Through the service, the API, the dashboard and the admin."""

import pytest
from django.urls import reverse

from core.audit import Actor
from core.errors import CatalogError
from core.models import AuditEvent
from core.retention import Budget
from syncs.retention import history_prune
from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EndpointFactory
from webhooks import selectors, services
from webhooks.models import Attempt, Delivery, Endpoint, Event
from webhooks.retention import endpoint_purge

pytestmark = pytest.mark.django_db
OPS = Actor(name="ops", source="cli")
PURGE_TASK = "webhooks.tasks.webhook_endpoint_purge_task"


def with_history(endpoint, deliveries: int = 3) -> list[Delivery]:
    rows = DeliveryFactory.create_batch(deliveries, endpoint=endpoint, status=Delivery.Status.SUCCEEDED)
    for delivery in rows:
        AttemptFactory(delivery=delivery)
    return rows


def purges_queued(callbacks) -> list:
    """The endpoint ids whose purge the request queued (after its commit)."""
    return [cb.keywords["args"][0] for cb in callbacks if getattr(cb, "args", ()) == (PURGE_TASK,)]


def test_it_hides_the_endpoint_at_once_and_leaves_its_history_to_the_task(django_capture_on_commit_callbacks):
    endpoint = EndpointFactory()
    rows = with_history(endpoint)

    with django_capture_on_commit_callbacks() as callbacks:
        services.endpoint_delete(endpoint=endpoint, actor=OPS)

    assert purges_queued(callbacks) == [endpoint.pk]
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert not selectors.endpoint_list().filter(pk=endpoint.pk).exists()
    marked = Endpoint.all_objects.get(pk=endpoint.pk)
    assert marked.deleted_at is not None and not marked.enabled and marked.disabled_reason == "Deleted by ops."
    assert Delivery.objects.filter(pk__in=[d.pk for d in rows]).count() == 3 and Attempt.objects.count() == 3
    assert AuditEvent.objects.get(action="webhook_endpoint.deleted").target_id == str(endpoint.pk)


def test_it_purges_deliveries_attempts_then_the_endpoint_in_the_task(django_capture_on_commit_callbacks,
                                                                      celery_eager):
    endpoint, other = EndpointFactory(), EndpointFactory()
    rows = with_history(endpoint)
    kept = with_history(other, deliveries=1)

    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_delete(endpoint=endpoint, actor=OPS)

    assert not Endpoint.all_objects.filter(pk=endpoint.pk).exists()
    assert not Delivery.objects.filter(endpoint_id=endpoint.pk).exists()
    assert list(Attempt.objects.values_list("delivery_id", flat=True)) == [kept[0].pk]
    assert Event.objects.filter(pk__in=[d.event_id for d in rows]).count() == 3, "events stay"


def test_it_purges_in_batches_and_goes_on_where_the_budget_stopped_it():
    endpoint = EndpointFactory()
    with_history(endpoint, deliveries=5)
    services.endpoint_delete(endpoint=endpoint, actor=OPS)

    assert endpoint_purge(endpoint_id=endpoint.pk, batch_size=2, budget=Budget(0)) is False
    assert Delivery.objects.filter(endpoint_id=endpoint.pk).count() == 5
    assert endpoint_purge(endpoint_id=endpoint.pk, batch_size=2, budget=Budget(60)) is True
    assert not Delivery.objects.exists() and not Attempt.objects.exists()
    assert not Endpoint.all_objects.exists()


def test_it_never_purges_a_live_endpoint():
    endpoint = EndpointFactory()
    with_history(endpoint, deliveries=2)

    assert endpoint_purge(endpoint_id=endpoint.pk, batch_size=1, budget=Budget(60)) is True
    assert Endpoint.objects.filter(pk=endpoint.pk).exists() and Delivery.objects.count() == 2


def test_it_finishes_a_purge_whose_message_was_lost_in_the_hourly_prune(fixed_now):
    endpoint = EndpointFactory()
    with_history(endpoint, deliveries=3)
    services.endpoint_delete(endpoint=endpoint, actor=OPS)  # no commit here, so no message was sent

    report = next(r for r in history_prune(batch_size=2) if r.kind == "deleted webhook endpoints")

    assert (report.deleted, report.cascaded, report.done) == (1, {"deliveries": 3, "attempts": 3}, True)
    assert not Endpoint.all_objects.exists() and not Delivery.objects.exists()


@pytest.mark.parametrize("event_type", ["sync.failed", "webhook.test"])
def test_it_never_sends_a_pending_delivery_of_a_deleted_endpoint(receiver, webhook_settings, event_type):
    endpoint = EndpointFactory(url=receiver.url())
    event = services.event_emit(type=event_type, data={}, endpoints=[endpoint])
    delivery = Delivery.objects.get(event=event)

    services.endpoint_delete(endpoint=endpoint, actor=OPS)
    attempted = services.deliveries_attempt(delivery_ids=[delivery.pk])

    delivery.refresh_from_db()
    assert attempted == 0 and receiver.requests == []
    assert delivery.status == Delivery.Status.FAILED and delivery.last_error == "Not sent: the endpoint was deleted."


def test_it_gives_a_deleted_endpoint_no_new_deliveries_nor_resends():
    endpoint = EndpointFactory()
    (delivery,) = with_history(endpoint, deliveries=1)
    services.endpoint_delete(endpoint=endpoint, actor=OPS)

    event = services.event_emit(type="sync.completed", data={})

    assert not event.deliveries.exists()
    with pytest.raises(CatalogError) as raised:
        services.delivery_resend(delivery=Delivery.objects.select_related("endpoint").get(pk=delivery.pk), actor=OPS)
    assert raised.value.code == "NOT_FOUND"


def test_it_deletes_through_the_api_without_deleting_deliveries_in_the_request(
        admin, django_capture_on_commit_callbacks):
    endpoint = EndpointFactory()
    (delivery,) = with_history(endpoint, deliveries=1)

    with django_capture_on_commit_callbacks() as callbacks:
        assert admin.delete(f"/api/v1/webhook-endpoints/{endpoint.pk}").status_code == 204

    assert purges_queued(callbacks) == [endpoint.pk] and Delivery.objects.filter(pk=delivery.pk).exists()
    assert admin.get(f"/api/v1/webhook-endpoints/{endpoint.pk}").status_code == 404
    assert admin.get(f"/api/v1/webhook-deliveries/{delivery.pk}").status_code == 404
    assert endpoint.pk not in [e["id"] for e in admin.get("/api/v1/webhook-endpoints").json()["data"]]


def test_it_deletes_from_the_admin_without_listing_or_deleting_the_history(
        admin_client, django_capture_on_commit_callbacks):
    endpoint = EndpointFactory()
    (delivery,) = with_history(endpoint, deliveries=1)
    url = reverse("admin:webhooks_endpoint_delete", args=[endpoint.pk])

    confirmation = admin_client.get(url).content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(url, {"post": "yes"})

    assert "Are you sure" in confirmation and f"/admin/webhooks/delivery/{delivery.pk}/" not in confirmation
    assert response.status_code == 302 and purges_queued(callbacks) == [endpoint.pk]
    assert Endpoint.all_objects.get(pk=endpoint.pk).deleted_at is not None
    assert Delivery.objects.filter(pk=delivery.pk).exists()
    changelist = admin_client.get(reverse("admin:webhooks_delivery_changelist")).content.decode()
    assert f"/admin/webhooks/delivery/{delivery.pk}/" not in changelist


def test_it_deletes_selected_endpoints_from_the_admin_list_through_the_service(
        admin_client, django_capture_on_commit_callbacks):
    endpoints = EndpointFactory.create_batch(2)
    with_history(endpoints[0], deliveries=2)

    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(reverse("admin:webhooks_endpoint_changelist"),
                          {"action": "delete_selected", "_selected_action": [e.pk for e in endpoints], "post": "yes"})

    assert sorted(purges_queued(callbacks)) == sorted(e.pk for e in endpoints)
    assert not Endpoint.objects.exists() and Delivery.objects.count() == 2
    assert AuditEvent.objects.filter(action="webhook_endpoint.deleted", source="admin").count() == 2
