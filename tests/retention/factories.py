"""Rows of a given age for the retention tests: the models stamp their own creation times, so
the helpers move them back afterwards."""

from datetime import datetime, timedelta

from django.utils import timezone

from core.models import AuditEvent
from syncs.models import Incident, SyncRun
from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EventFactory
from webhooks.models import Delivery


def days_ago(days: float) -> datetime:
    return timezone.now() - timedelta(days=days)


def run_ended(connection, *, days: float, entity: str = "vendors", status: str = SyncRun.Status.SUCCEEDED,
              finished: bool = True) -> SyncRun:
    """A run queued (and, if `finished`, finished a minute later) `days` ago."""
    run = SyncRun.objects.create(connection=connection, entity=entity, status=status)
    queued = days_ago(days) - timedelta(minutes=1)
    SyncRun.objects.filter(pk=run.pk).update(queued_at=queued, finished_at=days_ago(days) if finished else None)
    run.refresh_from_db()
    return run


def incident_on(run: SyncRun, *, status: str) -> Incident:
    return Incident.objects.create(connection=run.connection, entity=run.entity, error_code="UPSTREAM_UNREACHABLE",
                                   status=status, first_seen=run.queued_at, last_seen=run.queued_at, last_run=run)


def delivery_made(*, days: float, status: str = Delivery.Status.SUCCEEDED, delivered_days: float | None = None,
                  attempts: int = 1, event=None, **fields) -> Delivery:
    """A delivery (with its event, unless given, and `attempts` attempts) created `days` ago."""
    event = event or EventFactory(created_at=days_ago(days))
    delivery = DeliveryFactory(event=event, status=status, **fields)
    delivered = days_ago(delivered_days if delivered_days is not None else days)
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=days_ago(days), delivered_at=delivered if status == Delivery.Status.SUCCEEDED else None)
    for number in range(1, attempts + 1):
        AttemptFactory(delivery=delivery, number=number, at=days_ago(days))
    delivery.refresh_from_db()
    return delivery


def audit_made(*, days: float, action: str = "connection.created") -> AuditEvent:
    event = AuditEvent.objects.create(actor="tester", action=action)
    AuditEvent.objects.filter(pk=event.pk).update(at=days_ago(days))
    return event
