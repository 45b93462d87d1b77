"""webhooks/retention.py: deliveries (with their attempts) and events past their limits, and
what keeps them: a pending delivery, its event, a delivery still within its limit."""

import pytest

from core.retention import Budget
from tests.retention.factories import days_ago, delivery_made
from tests.webhooks.factories import AttemptFactory, EventFactory
from webhooks.models import Attempt, Delivery, Event
from webhooks.retention import deliveries_prune, events_prune

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fixed_now")]
def prune_all(**options):
    # A budget of its own per prune: one made at import would run out while the suite runs.
    options = {"batch_size": 1000, "budget": Budget(60), **options}
    return deliveries_prune(dry_run=False, **options), events_prune(dry_run=False, **options)


def left(model, *rows) -> set:
    return set(model.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))


def test_it_prunes_finished_deliveries_past_the_limit_with_their_attempts():
    old_ok = delivery_made(days=40, attempts=2)
    old_failed = delivery_made(days=31, status=Delivery.Status.FAILED, attempts=3)
    young = delivery_made(days=29, attempts=1)

    deliveries, _ = prune_all()

    assert (deliveries.deleted, dict(deliveries.cascaded)) == (2, {"attempts": 5})
    assert left(Delivery, old_ok, old_failed, young) == {young.pk}
    assert Attempt.objects.filter(delivery=young).count() == 1 and Attempt.objects.count() == 1


def test_it_keeps_a_pending_delivery_and_its_event_however_old():
    pending = delivery_made(days=200, status=Delivery.Status.PENDING, attempts=4)

    deliveries, events = prune_all()

    assert deliveries.deleted == events.deleted == 0
    assert left(Delivery, pending) == {pending.pk} and left(Event, pending.event) == {pending.event_id}
    assert Attempt.objects.filter(delivery=pending).count() == 4


def test_it_keeps_a_delivery_delivered_within_the_limit_after_a_resend():
    resent = delivery_made(days=60, delivered_days=2)

    prune_all()

    assert left(Delivery, resent) == {resent.pk} and left(Event, resent.event) == {resent.event_id}


def test_it_prunes_old_events_no_kept_delivery_needs():
    lonely = EventFactory(created_at=days_ago(31))
    young = EventFactory(created_at=days_ago(29))
    with_old_delivery = delivery_made(days=45).event

    _, events = prune_all()

    assert events.deleted == 2
    assert left(Event, lonely, young, with_old_delivery) == {young.pk}


def test_it_never_cascades_an_event_deletion_to_a_pending_or_young_delivery(settings):
    # Events kept for less time than deliveries: an old event whose deliveries are kept stays.
    settings.RETENTION_EVENT_DAYS = 5
    event = EventFactory(created_at=days_ago(10))
    pending = delivery_made(days=10, status=Delivery.Status.PENDING, event=event)
    shared = EventFactory(created_at=days_ago(10))
    young = delivery_made(days=10, event=shared)
    gone = EventFactory(created_at=days_ago(10))

    _, events = prune_all()

    assert events.deleted == 1 and left(Event, event, shared, gone) == {event.pk, shared.pk}
    assert left(Delivery, pending, young) == {pending.pk, young.pk}


def test_it_deletes_in_batches_smaller_than_the_rows():
    old = [delivery_made(days=40 + n, attempts=2) for n in range(5)]

    deliveries, events = prune_all(batch_size=2)

    assert (deliveries.deleted, deliveries.cascaded["attempts"], events.deleted) == (5, 10, 5)
    assert not left(Delivery, *old) and not Attempt.objects.exists() and not Event.objects.exists()


def test_it_counts_a_dry_run_per_rule_and_deletes_nothing():
    delivery_made(days=40, attempts=2)
    delivery_made(days=50, status=Delivery.Status.FAILED, attempts=3)
    delivery_made(days=40, status=Delivery.Status.PENDING)
    delivery_made(days=60, delivered_days=1)
    delivery_made(days=1)
    AttemptFactory(delivery=delivery_made(days=2), number=2)
    EventFactory(created_at=days_ago(90))

    deliveries = deliveries_prune(dry_run=True, batch_size=1000, budget=Budget(60))
    events = events_prune(dry_run=True, batch_size=1000, budget=Budget(60))

    assert (deliveries.older, deliveries.recent, deliveries.deleted) == (4, 2, 2)
    assert deliveries.kept == {"pending": 1, "delivered within the limit": 1}
    assert deliveries.cascaded == {"attempts": 5}
    assert (events.older, events.recent, events.deleted) == (5, 2, 3)
    assert events.kept == {"a pending delivery needs it": 1, "a delivery within its limit needs it": 1}
    assert events.cascaded == {"deliveries": 2}
    assert (Delivery.objects.count(), Event.objects.count(), Attempt.objects.count()) == (6, 7, 10)
