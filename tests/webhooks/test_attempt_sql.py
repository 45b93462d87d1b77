"""The compiler-free SQL of the attempt path reads and writes exactly what the ORM would."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.connections.factories import ConnectionFactory
from tests.webhooks.factories import DeliveryFactory, EndpointFactory, EventFactory
from webhooks import attempt_sql
from webhooks.models import Attempt, Delivery

pytestmark = pytest.mark.django_db


def claim(ids, *, drain=0, now=None, lock=None):
    now = now or timezone.now()
    return attempt_sql.deliveries_claim(delivery_ids=list(ids), drain=drain, now=now, due_before=now,
                                        drain_due_before=now, locked_until=lock or now + timedelta(seconds=70))


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

    (loaded,) = claim([delivery.pk])
    orm = Delivery.objects.select_related("event", "endpoint").get(pk=delivery.pk)

    assert (loaded.pk, loaded.attempts, loaded.chain_attempts, loaded.event_id, loaded.endpoint_id) == (
        orm.pk, orm.attempts, orm.chain_attempts, orm.event_id, orm.endpoint_id)
    assert (loaded.event.pk, loaded.event.type, loaded.event.payload) == (orm.event.pk, orm.event.type,
                                                                          orm.event.payload)
    for name in ("url", "secret", "previous_secret", "previous_secret_expires_at", "enabled", "disabled_reason",
                 "failing_since", "last_success_at", "connection_id"):
        assert getattr(loaded.endpoint, name) == getattr(orm.endpoint, name), name
    assert loaded.endpoint.previous_secret_expires_at.tzinfo is not None
    assert claim([delivery.pk + 999]) == []


def test_it_claims_only_pending_due_unlocked_deliveries_once():
    now = timezone.now()
    lock = now + timedelta(seconds=70)
    due = DeliveryFactory(next_attempt_at=now - timedelta(seconds=1))
    later = DeliveryFactory(next_attempt_at=now + timedelta(minutes=5))
    done = DeliveryFactory(status="succeeded")

    assert [d.pk for d in claim([due.pk, later.pk, done.pk], now=now, lock=lock)] == [due.pk]
    assert claim([due.pk], now=now, lock=lock) == [], "a second claim while locked gets nothing"
    assert Delivery.objects.get(pk=due.pk).locked_until == lock
    assert Delivery.objects.get(pk=later.pk).locked_until is None


def test_it_drains_the_oldest_due_deliveries_besides_its_own_and_shares_one_endpoint_instance():
    now = timezone.now()
    endpoint = EndpointFactory()
    oldest = [DeliveryFactory(endpoint=endpoint, next_attempt_at=now - timedelta(minutes=m)) for m in (9, 8, 7)]
    newer = DeliveryFactory(endpoint=endpoint, next_attempt_at=now - timedelta(minutes=1))
    own = DeliveryFactory(endpoint=endpoint, next_attempt_at=now)
    DeliveryFactory(endpoint=endpoint, next_attempt_at=now + timedelta(minutes=1))  # not due
    DeliveryFactory(endpoint=endpoint, locked_until=now + timedelta(seconds=30),
                    next_attempt_at=now - timedelta(minutes=20))  # held by another worker

    claimed = claim([own.pk], drain=3, now=now)

    assert sorted(d.pk for d in claimed) == sorted([own.pk, *(d.pk for d in oldest)])
    assert len({id(d.endpoint) for d in claimed}) == 1  # its secrets decrypted once
    assert [d.pk for d in claim([], drain=5, now=now)] == [newer.pk]
    assert claim([], drain=5, now=now) == []


def test_it_writes_attempts_and_delivery_updates_the_orm_reads_back():
    first, second = DeliveryFactory(), DeliveryFactory(delivered_at=timezone.now() - timedelta(days=1))
    at = timezone.now()
    headers = {"webhook-id": str(first.event_id), "webhook-signature": "v1,abc= v1,def="}
    row = {"number": 1, "at": at, "status_code": None, "duration_ms": 1000, "error": "Timed out",
           "remote_address": "", "response_snippet": "ü", "request_headers": headers, "request_body": '{"a": 1}'}
    outcome = {"status": "failed", "attempts": 1, "chain_attempts": 1, "locked_until": None, "last_status_code": None,
               "last_error": "Timed out", "last_latency_ms": 1000, "next_attempt_at": None, "queued_for": None,
               "delivered_at": None}

    ids = attempt_sql.attempts_insert(statement=attempt_sql.attempts_insert_statement(rows=[
        {"delivery_id": first.pk, **row}, {"delivery_id": second.pk, **row, "status_code": 200, "error": ""}]))
    attempt_sql.deliveries_update(statement=attempt_sql.deliveries_update_statement(rows=[
        (first.pk, {**outcome, "status": "succeeded", "last_status_code": 200, "delivered_at": at}),
        (second.pk, {**outcome, "next_attempt_at": at + timedelta(seconds=30), "status": "pending",
                     "queued_for": at + timedelta(seconds=30)})]))

    attempt = Attempt.objects.get(pk=ids[first.pk])
    assert (attempt.delivery_id, attempt.at, attempt.status_code, attempt.request_headers, attempt.response_snippet) \
        == (first.pk, at, None, headers, "ü")
    assert Attempt.objects.get(pk=ids[second.pk]).status_code == 200
    first.refresh_from_db()
    assert (first.status, first.attempts, first.next_attempt_at, first.delivered_at, first.last_status_code,
            first.last_latency_ms) == ("succeeded", 1, None, at, 200, 1000)
    delivered_before = second.delivered_at
    second.refresh_from_db()
    assert (second.status, second.next_attempt_at, second.queued_for, second.last_error) == (
        "pending", at + timedelta(seconds=30), at + timedelta(seconds=30), "Timed out")
    assert second.delivered_at == delivered_before, "a retry keeps the time of an earlier success"
