"""Through real Celery workers (subprocesses): the path production takes."""

import time
import uuid

import pytest
from django.db import transaction
from standardwebhooks import Webhook

from core.audit import SYSTEM
from tests.webhooks.factories import EndpointFactory
from webhooks import dispatch, services
from webhooks.models import Delivery
from webhooks.tasks import webhook_delivery_attempt_task

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for_status(delivery: Delivery, status: str, timeout: float = 60) -> Delivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status == status:
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"delivery {delivery.pk} is {delivery.status!r}, not {status!r}, after {timeout}s")


def test_it_delivers_an_emitted_event_through_a_celery_worker(receiver, webhook_settings, ca_bundle,
                                                              worker_factory):
    # The worker is another process: it gets the allow-list and the CA through its environment.
    # Its own queue keeps the session worker (which has neither) from taking the message.
    queue = f"webhooks-test-{uuid.uuid4().hex[:8]}"
    worker = worker_factory(queues=queue, concurrency=1, name="webhooks", env={
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8", "WEBHOOK_CA_BUNDLE": ca_bundle})
    endpoint, secret = services.endpoint_create(url=receiver.url(), actor=SYSTEM)

    def to_worker(delivery_id: int, countdown: float) -> None:
        webhook_delivery_attempt_task.apply_async(args=[delivery_id], countdown=countdown or None, queue=queue)

    with dispatch.deliveries_run_locally(to_worker):
        with transaction.atomic():
            event = services.event_emit(type="sync.completed", data={"run": {"counts": {"created": 2}}})

    (request,) = receiver.wait_for(1, timeout=60)
    assert Webhook(secret).verify(request.body, request.headers)["id"] == str(event.id)
    delivery = wait_for_status(Delivery.objects.get(event=event, endpoint=endpoint), "succeeded")
    assert delivery.attempts == 1 and delivery.attempt_set.get().status_code == 200
    assert "webhook_delivery_attempt_task" in worker.output()


def test_it_refuses_loopback_in_the_default_worker_without_an_allow_list(receiver, celery_worker_process):
    # The session worker runs with the shipped defaults: no allow-list. The message goes the
    # default way (on commit, routed to the `webhooks` queue) and the worker refuses to send.
    endpoint = EndpointFactory(url=receiver.url())

    with transaction.atomic():
        event = services.event_emit(type="sync.completed", data={})

    delivery = wait_for_status(Delivery.objects.get(event=event, endpoint=endpoint), "failed")
    assert delivery.last_error.startswith("Refused before connecting") and "loopback" in delivery.last_error
    assert receiver.requests == []
