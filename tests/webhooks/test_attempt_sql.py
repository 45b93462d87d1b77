"""The compiler-free SQL of the attempt path reads and writes exactly what the ORM would."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.connections.factories import ConnectionFactory
from tests.webhooks.factories import DeliveryFactory, EndpointFactory, EventFactory
from webhooks import attempt_sql
from webhooks.models import Attempt, Delivery

pytestmark = pytest.mark.django_db


def test_it_loads_the_delivery_event_and_endpoint_as_the_orm_does():
    conn = ConnectionFactory()
    endpoint = EndpointFactory(connection=conn, previous_secret="whsec_cHJldmlvdXM=",
                               previous_secret_expires_at=timezone.now() + timedelta(hours=3),
                               failing_since=timezone.now() - timedelta(minutes=5), enabled=False,
                               disabled_reason="ops", last_success_at=timezone.now() - timedelta(days=1))
    event = EventFactory(connection=conn, type="incident.opened")
    event.payload["data"] = {"nested": {"list": [1, "two", None]}, "text": "é ✓"}
    event.save()
    delivery = DeliveryFactory(event=event, endpoint=endpoint, attempts=3, chain_attempts=2)

    loaded = attempt_sql.delivery_load(delivery_id=delivery.pk)
    orm = Delivery.objects.select_related("event", "endpoint").get(pk=delivery.pk)

    assert (loaded.pk, loaded.attempts, loaded.chain_attempts, loaded.event_id, loaded.endpoint_id) == (
        orm.pk, orm.attempts, orm.chain_attempts, orm.event_id, orm.endpoint_id)
    assert (loaded.event.pk, loaded.event.type, loaded.event.payload) == (orm.event.pk, orm.event.type,
                                                                          orm.event.payload)
    for name in ("url", "secret", "previous_secret", "previous_secret_expires_at", "enabled", "disabled_reason",
                 "failing_since", "last_success_at", "connection_id"):
        assert getattr(loaded.endpoint, name) == getattr(orm.endpoint, name), name
    assert loaded.endpoint.previous_secret_expires_at.tzinfo is not None
    assert attempt_sql.delivery_load(delivery_id=delivery.pk + 999) is None


def test_it_claims_only_a_pending_due_unlocked_delivery():
    now = timezone.now()
    lock = now + timedelta(seconds=70)
    due = DeliveryFactory(next_attempt_at=now - timedelta(seconds=1))
    later = DeliveryFactory(next_attempt_at=now + timedelta(minutes=5))
    done = DeliveryFactory(status="succeeded")

    def claim(delivery):
        return attempt_sql.delivery_claim(delivery_id=delivery.pk, now=now, due_before=now, locked_until=lock)

    assert claim(due) and not claim(due), "a second claim while locked fails"
    assert not claim(later) and not claim(done)
    assert Delivery.objects.get(pk=due.pk).locked_until == lock


def test_it_writes_attempts_and_delivery_updates_the_orm_reads_back():
    delivery = DeliveryFactory()
    at = timezone.now()
    headers = {"webhook-id": str(delivery.event_id), "webhook-signature": "v1,abc= v1,def="}

    attempt_id = attempt_sql.attempt_insert(statement=attempt_sql.attempt_insert_statement(values={
        "delivery_id": delivery.pk, "number": 1, "at": at, "status_code": None, "duration_ms": 1000,
        "error": "Timed out", "remote_address": "", "response_snippet": "ü", "request_headers": headers,
        "request_body": '{"a": 1}'}))
    attempt_sql.delivery_update(statement=attempt_sql.delivery_update_statement(delivery_id=delivery.pk, values={
        "status": "failed", "attempts": 1, "next_attempt_at": None, "last_error": "Timed out",
        "delivered_at": at, "last_latency_ms": 1000}))

    attempt = Attempt.objects.get(pk=attempt_id)
    assert (attempt.delivery_id, attempt.at, attempt.status_code, attempt.request_headers, attempt.response_snippet) \
        == (delivery.pk, at, None, headers, "ü")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at, delivery.delivered_at,
            delivery.last_latency_ms) == ("failed", 1, None, at, 1000)
