"""The hourly beat entry, and both retention tasks on a real Celery worker (its own clock: the
rows are dated relative to now, far from every limit)."""

from datetime import timedelta

import pytest
from django.conf import settings

from config.celery import app, task_send
from core.audit import Actor
from core.models import AuditEvent
from syncs.models import SyncRun
from tests.conftest import wait_for
from tests.connections.factories import ConnectionFactory
from tests.retention.factories import audit_made, delivery_made, run_ended
from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EndpointFactory
from webhooks import services
from webhooks.models import Delivery, Endpoint


def test_it_schedules_the_prune_every_hour():
    entry = settings.CELERY_BEAT_SCHEDULE["history-prune"]
    assert entry == {"task": "syncs.tasks.history_prune_task", "schedule": timedelta(hours=1)}
    app.loader.import_default_modules()
    assert "syncs.tasks.history_prune_task" in app.tasks
    # The purge may take minutes: never on the queue deliveries wait in.
    assert settings.CELERY_TASK_ROUTES["webhooks.tasks.webhook_endpoint_purge_task"] == {"queue": "celery"}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_prunes_history_on_a_worker(celery_worker_process):
    conn = ConnectionFactory()
    old = [run_ended(conn, days=400 + n) for n in range(3)]
    latest = run_ended(conn, days=1)
    old_delivery, young_delivery = delivery_made(days=200, attempts=2), delivery_made(days=1)
    old_audit, young_audit = audit_made(days=2000), audit_made(days=1)

    task_send("syncs.tasks.history_prune_task", args=[])

    wait_for(lambda: not SyncRun.objects.filter(pk__in=[r.pk for r in old]).exists(), message="runs pruned")
    wait_for(lambda: not Delivery.objects.filter(pk=old_delivery.pk).exists(), message="deliveries pruned")
    assert SyncRun.objects.filter(pk=latest.pk).exists() and Delivery.objects.filter(pk=young_delivery.pk).exists()
    wait_for(lambda: not AuditEvent.objects.filter(pk=old_audit.pk).exists(), message="audit pruned")
    assert AuditEvent.objects.filter(pk=young_audit.pk).exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_purges_a_deleted_endpoint_on_a_worker(celery_worker_process):
    endpoint, other = EndpointFactory(), EndpointFactory()
    for target in (endpoint, endpoint, other):
        AttemptFactory(delivery=DeliveryFactory(endpoint=target, status=Delivery.Status.SUCCEEDED))

    services.endpoint_delete(endpoint=endpoint, actor=Actor(name="ops"))  # commits: the purge is queued

    wait_for(lambda: not Endpoint.all_objects.filter(pk=endpoint.pk).exists(), message="endpoint purged")
    assert not Delivery.objects.filter(endpoint_id=endpoint.pk).exists()
    assert Delivery.objects.filter(endpoint=other).count() == 1
