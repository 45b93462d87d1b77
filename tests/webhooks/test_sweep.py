"""The sweeper: the database, not the broker, decides what is still owed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.webhooks.factories import DeliveryFactory, EndpointFactory
from tests.webhooks.receiver import Reply
from webhooks import dispatch, services
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


def test_it_delivers_an_event_whose_celery_message_was_lost(receiver, webhook_settings, clock, celery_eager,
                                                            django_capture_on_commit_callbacks):
    EndpointFactory(url=receiver.url())
    # The outbox commits, but the message never reaches the broker (its callback is dropped).
    with django_capture_on_commit_callbacks(execute=False) as lost:
        event = services.event_emit(type="sync.completed", data={"run": {"id": "r1"}})
    assert len(lost) == 1
    delivery = Delivery.objects.get(event=event)

    # Within the grace period the message may just be queued: the sweeper leaves it alone.
    assert services.deliveries_sweep()["requeued"] == 0

    clock.advance(services.sweep_grace_seconds() + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deliveries_sweep()["requeued"] == 1

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(event.id)]


def test_it_re_enqueues_a_delivery_at_most_once_per_grace_period(clock, django_capture_on_commit_callbacks):
    delivery = DeliveryFactory()
    enqueued = []
    clock.advance(services.sweep_grace_seconds() + 1)

    with dispatch.deliveries_run_locally(lambda delivery_id, countdown: enqueued.append(delivery_id)):
        with django_capture_on_commit_callbacks(execute=True):
            services.deliveries_sweep()
            services.deliveries_sweep()
        assert enqueued == [delivery.pk]
        clock.advance(services.sweep_grace_seconds() + 1)
        with django_capture_on_commit_callbacks(execute=True):
            services.deliveries_sweep()
    assert enqueued == [delivery.pk, delivery.pk]


def test_it_enqueues_long_waits_when_due_since_they_get_no_countdown_message(receiver, webhook_settings, clock,
                                                                            django_capture_on_commit_callbacks):
    webhook_settings.WEBHOOK_RETRY_SCHEDULE = [7200]
    receiver.script(Reply(status=500))
    EndpointFactory(url=receiver.url())
    event = services.event_emit(type="sync.completed", data={})
    delivery = Delivery.objects.get(event=event)
    enqueued = []

    with dispatch.deliveries_run_locally(lambda delivery_id, countdown: enqueued.append((delivery_id, countdown))):
        with django_capture_on_commit_callbacks(execute=True):
            services.delivery_attempt(delivery_id=delivery.pk)
        assert enqueued == []  # two hours is past the countdown limit: no broker message
        clock.advance(7199)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.deliveries_sweep()["requeued"] == 0
        clock.advance(2)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.deliveries_sweep()["requeued"] == 1
    assert enqueued == [(delivery.pk, 0.0)]


def test_it_sends_short_retries_as_countdown_messages(receiver, webhook_settings, django_capture_on_commit_callbacks):
    receiver.script(Reply(status=500))
    EndpointFactory(url=receiver.url())
    delivery = Delivery.objects.get(event=services.event_emit(type="sync.completed", data={}))
    enqueued = []

    with dispatch.deliveries_run_locally(lambda delivery_id, countdown: enqueued.append((delivery_id, countdown))):
        with django_capture_on_commit_callbacks(execute=True):
            services.delivery_attempt(delivery_id=delivery.pk)

    assert enqueued == [(delivery.pk, 30.0)]


def test_it_recovers_a_delivery_whose_worker_died_mid_attempt(clock, django_capture_on_commit_callbacks):
    delivery = DeliveryFactory()
    # A worker claimed it and died: the lock runs out, then the sweeper hands it out again.
    Delivery.objects.filter(pk=delivery.pk).update(locked_until=timezone.now() + timedelta(seconds=70))
    clock.advance(services.sweep_grace_seconds() + 1)
    enqueued = []

    with dispatch.deliveries_run_locally(lambda delivery_id, countdown: enqueued.append(delivery_id)):
        with django_capture_on_commit_callbacks(execute=True):
            services.deliveries_sweep()

    assert enqueued == [delivery.pk]


def test_it_disables_endpoints_without_success_for_the_configured_days(settings, clock):
    failing = EndpointFactory(failing_since=timezone.now() - timedelta(days=3, minutes=1))
    recent = EndpointFactory(failing_since=timezone.now() - timedelta(days=2))
    healthy = EndpointFactory(last_success_at=timezone.now())

    assert services.deliveries_sweep()["disabled"] == 1

    failing.refresh_from_db()
    assert not failing.enabled and "No successful delivery for 3 days" in failing.disabled_reason
    assert Endpoint.objects.filter(pk__in=[recent.pk, healthy.pk], enabled=True).count() == 2
    assert services.deliveries_sweep()["disabled"] == 0


def test_it_runs_as_the_beat_task(clock, django_capture_on_commit_callbacks):
    from django.conf import settings

    from webhooks.tasks import webhook_sweep_task

    DeliveryFactory()
    clock.advance(services.sweep_grace_seconds() + 1)
    enqueued = []
    assert settings.CELERY_BEAT_SCHEDULE["webhook-sweep"]["task"] == webhook_sweep_task.name

    with dispatch.deliveries_run_locally(lambda delivery_id, countdown: enqueued.append(delivery_id)):
        with django_capture_on_commit_callbacks(execute=True):
            webhook_sweep_task()

    assert len(enqueued) == 1
