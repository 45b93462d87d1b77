"""A receiver that is down for a while still ends up with every event, each exactly once."""

from collections import Counter

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from core.audit import SYSTEM
from tests.webhooks.receiver import Reply, unused_port
from webhooks import services
from webhooks.models import Delivery
from webhooks.tasks import webhook_delivery_attempt_task

pytestmark = pytest.mark.django_db


def run_due_deliveries() -> int:
    """One round of what workers do: every due delivery's task, some twice (duplicate messages)."""
    due = list(Delivery.objects.filter(status="pending", next_attempt_at__lte=timezone.now())
               .order_by("pk").values_list("pk", flat=True))
    for delivery_id in due:
        webhook_delivery_attempt_task(delivery_id)
        if delivery_id % 2:
            webhook_delivery_attempt_task(delivery_id)  # a redelivered or swept duplicate
    return len(due)


def test_it_delivers_every_event_exactly_once_after_the_receiver_was_down(webhook_settings, receiver_factory):
    webhook_settings.WEBHOOK_RETRY_SCHEDULE = [0] * 8
    port = unused_port()
    endpoint, secret = services.endpoint_create(url=f"https://localhost:{port}/hook", actor=SYSTEM)
    events = [services.event_emit(type="sync.completed", data={"n": n}) for n in range(6)]

    # Down (nothing listening) for the first two rounds of attempts.
    assert run_due_deliveries() == 6
    assert run_due_deliveries() == 6
    down_attempts = sum(Delivery.objects.values_list("attempts", flat=True))
    assert down_attempts >= 12
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}

    receiver = receiver_factory(port=port)
    # Up, but failing the first two requests of the next round.
    receiver.script(Reply(status=503), Reply(status=500))
    rounds = 0
    while Delivery.objects.filter(status="pending").exists():
        rounds += 1
        assert rounds < 5, "deliveries still pending"
        run_due_deliveries()

    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    accepted = [Webhook(secret).verify(r.body, r.headers)["id"] for r in receiver.requests if r.status == 200]
    assert Counter(accepted) == Counter(str(event.id) for event in events)
    assert len(accepted) == 6  # duplicate task runs after success sent nothing
    # Every try is on record: the refused connections, then one request each (two of them retried).
    assert sum(Delivery.objects.values_list("attempts", flat=True)) == down_attempts + len(receiver.requests)
    assert len(receiver.requests) == 6 + 2
