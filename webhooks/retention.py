"""Bounded webhook history (docs/architecture.md#retention): deliveries with their attempts,
events, and what a deleted endpoint leaves behind.

Deliveries go before events: an event is kept while one of its deliveries is kept, so deleting
an event (which cascades to its deliveries) never takes a pending delivery, nor one that is
still within its own limit.
"""

from collections import Counter

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from core.retention import Budget, PruneReport, Rule, batches_delete, cutoff_for, rows_prune
from webhooks.models import Attempt, Delivery, Endpoint, Event

_LABELS = {Delivery._meta.label: "deliveries", Attempt._meta.label: "attempts"}


def _delivery_rules(cutoff) -> list[Rule]:
    # A delivery resent lately keeps its created_at; its last success says it is still in use.
    return [Rule("pending", Q(status=Delivery.Status.PENDING)),
            Rule("delivered within the limit", Q(delivered_at__gte=cutoff))]


def _delivery_kept(cutoff) -> Q:
    """Every delivery the delivery rules keep, the young ones included."""
    kept = Q(created_at__gte=cutoff)
    for rule in _delivery_rules(cutoff):
        kept |= rule.keeps
    return kept


def _attempts_of(deliveries):
    return Attempt.objects.filter(delivery__in=deliveries.values("pk"))


def deliveries_prune(*, dry_run: bool, batch_size: int, budget: Budget) -> PruneReport:
    """Deliveries created more than RETENTION_WEBHOOK_DAYS ago, with their attempts; never a pending one."""
    days = settings.RETENTION_WEBHOOK_DAYS
    cutoff = cutoff_for(days)
    # Ids grow with created_at: the batches walk the primary key from the oldest delivery.
    return rows_prune(kind="webhook deliveries", days=days, older=Delivery.objects.filter(created_at__lt=cutoff),
                      order="pk", rules=_delivery_rules(cutoff), dry_run=dry_run, batch_size=batch_size, budget=budget,
                      cascades={"attempts": _attempts_of})


def events_prune(*, dry_run: bool, batch_size: int, budget: Budget) -> PruneReport:
    """Events created more than RETENTION_EVENT_DAYS ago that no kept delivery needs."""
    days = settings.RETENTION_EVENT_DAYS
    delivery_cutoff = cutoff_for(settings.RETENTION_WEBHOOK_DAYS)
    deliveries = Delivery.objects.filter(event=OuterRef("pk"))
    kept = deliveries.filter(_delivery_kept(delivery_cutoff))
    rules = [Rule("a pending delivery needs it", Q(Exists(deliveries.filter(status=Delivery.Status.PENDING)))),
             Rule("a delivery within its limit needs it", Q(Exists(kept)))]
    older = Event.objects.filter(created_at__lt=cutoff_for(days))
    return rows_prune(kind="webhook events", days=days, older=older, order="created_at",
                      rules=rules, dry_run=dry_run, batch_size=batch_size, budget=budget,
                      cascades={"deliveries": lambda events: Delivery.objects.filter(event__in=events.values("pk"))})


def _endpoint_purge(*, endpoint_id: int, batch_size: int, budget: Budget) -> tuple[Counter, bool]:
    if not Endpoint.all_objects.filter(pk=endpoint_id, deleted_at__isnull=False).exists():
        return Counter(), True
    counts, done = batches_delete(rows=Delivery.objects.filter(endpoint_id=endpoint_id), batch_size=batch_size,
                                  budget=budget)
    if done:
        # A delivery made in the moment before the deletion committed goes with the row.
        counts.update(Endpoint.all_objects.filter(pk=endpoint_id, deleted_at__isnull=False).delete()[1])
    return counts, done


def endpoint_purge(*, endpoint_id: int, batch_size: int, budget: Budget) -> bool:
    """Deletes a deleted endpoint's deliveries and attempts in batches, then its row. True when it
    is gone (or was never deleted: a live endpoint is never purged); False when the budget ran out."""
    return _endpoint_purge(endpoint_id=endpoint_id, batch_size=batch_size, budget=budget)[1]


def endpoints_purge_deleted(*, dry_run: bool, batch_size: int, budget: Budget) -> PruneReport:
    """Purges every endpoint marked deleted: what a lost purge message, or one out of time, left."""
    deleted = Endpoint.all_objects.filter(deleted_at__isnull=False)
    report = PruneReport(kind="deleted webhook endpoints", days=0)
    if dry_run:
        report.deleted = deleted.count()
        report.cascaded["deliveries"] = Delivery.objects.filter(endpoint__in=deleted.values("pk")).count()
        return report
    for endpoint_id in list(deleted.values_list("pk", flat=True)):
        counts, report.done = _endpoint_purge(endpoint_id=endpoint_id, batch_size=batch_size, budget=budget)
        report.deleted += counts.pop(Endpoint._meta.label, 0)
        report.cascaded.update({_LABELS.get(label, label): n for label, n in counts.items() if n})
        if not report.done:
            break
    return report
