"""event_emit: the outbox other apps write to inside their own transaction."""

import pytest
from django.db import transaction

from core.errors import CatalogError
from tests.connections.factories import ConnectionFactory
from tests.webhooks.factories import EndpointFactory
from webhooks import dispatch, services
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db


def test_it_builds_the_documented_payload():
    conn = ConnectionFactory()

    event = services.event_emit(type="sync.completed", connection=conn,
                                data={"run": {"id": conn.pk, "counts": {"created": 3}}})

    assert list(event.payload) == ["id", "type", "created_at", "connection_id", "data"]
    assert event.payload["id"] == str(event.id) and event.payload["type"] == "sync.completed"
    assert event.payload["connection_id"] == str(conn.pk)
    assert event.payload["created_at"].endswith("Z")
    # Non-JSON values (a UUID here) are stored as the strings that will be sent.
    assert event.payload["data"] == {"run": {"id": str(conn.pk), "counts": {"created": 3}}}
    assert services.event_body(event).startswith(b'{"id":')


def test_it_creates_one_delivery_per_matching_enabled_endpoint():
    conn, other_conn = ConnectionFactory(), ConnectionFactory()
    everything = EndpointFactory()
    scoped = EndpointFactory(connection=conn)
    subscribed = EndpointFactory(event_types=["sync.failed", "sync.completed"])
    EndpointFactory(connection=other_conn)  # another connection's
    EndpointFactory(event_types=["incident.opened"])  # other types only
    EndpointFactory(enabled=False)  # disabled

    event = services.event_emit(type="sync.completed", connection=conn, data={})

    assert set(Delivery.objects.filter(event=event).values_list("endpoint", flat=True)) == {
        everything.pk, scoped.pk, subscribed.pk}
    assert set(Delivery.objects.filter(event=event).values_list("status", flat=True)) == {"pending"}


def test_it_sends_events_without_a_connection_to_global_endpoints_only():
    everything = EndpointFactory()
    EndpointFactory(connection=ConnectionFactory())

    event = services.event_emit(type="incident.opened", data={"incident": {"id": 1}})

    assert list(Delivery.objects.filter(event=event).values_list("endpoint", flat=True)) == [everything.pk]


def test_it_refuses_unknown_event_types():
    with pytest.raises(CatalogError) as caught:
        services.event_emit(type="sync.exploded", data={})
    assert caught.value.code == "VALIDATION_FAILED"
    assert Event.objects.count() == 0


def test_it_enqueues_the_deliveries_only_when_the_callers_transaction_commits(django_capture_on_commit_callbacks):
    EndpointFactory(), EndpointFactory()
    enqueued = []

    with dispatch.deliveries_run_locally(lambda delivery_id, countdown: enqueued.append(delivery_id)):
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                event = services.event_emit(type="sync.completed", data={})
                assert enqueued == []  # nothing leaves before the commit

    assert sorted(enqueued) == sorted(Delivery.objects.filter(event=event).values_list("pk", flat=True))
    assert len(enqueued) == 2


def test_it_leaves_no_event_and_sends_nothing_when_the_caller_rolls_back(django_capture_on_commit_callbacks):
    EndpointFactory()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                services.event_emit(type="sync.completed", data={})
                raise RuntimeError("the sync's own write failed")

    assert callbacks == []
    assert Event.objects.count() == 0 and Delivery.objects.count() == 0


def test_it_enqueues_through_celery_to_the_webhooks_queue(django_capture_on_commit_callbacks, monkeypatch):
    from webhooks.tasks import webhook_deliveries_attempt_task

    EndpointFactory(), EndpointFactory()
    sent = []
    monkeypatch.setattr(webhook_deliveries_attempt_task, "apply_async",
                        lambda args, countdown=None: sent.append((args, countdown)))

    with django_capture_on_commit_callbacks(execute=True):
        event = services.event_emit(type="sync.completed", data={})

    # One message per commit, carrying the ids of that commit.
    assert [(sorted(args[0]), countdown) for args, countdown in sent] == [
        (sorted(Delivery.objects.filter(event=event).values_list("pk", flat=True)), None)]
    from config.celery import app

    route = app.amqp.router.route({}, webhook_deliveries_attempt_task.name)
    assert route["queue"].name == "webhooks"


def test_it_splits_many_ids_into_messages_of_one_batch_each(monkeypatch):
    from webhooks.tasks import webhook_deliveries_attempt_task

    sent = []
    monkeypatch.setattr(webhook_deliveries_attempt_task, "apply_async",
                        lambda args, countdown=None: sent.append((args[0], countdown)))

    dispatch.deliveries_enqueue(delivery_ids=range(1, dispatch.BATCH_SIZE * 2 + 2), countdown=30)

    assert [len(ids) for ids, _ in sent] == [dispatch.BATCH_SIZE, dispatch.BATCH_SIZE, 1]
    assert [i for ids, _ in sent for i in ids] == list(range(1, dispatch.BATCH_SIZE * 2 + 2))
    assert {countdown for _, countdown in sent} == {30}
