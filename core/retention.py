"""Bounded history (docs/architecture.md#retention): the batched delete every app's pruning
uses, the report it returns, and the audit log's own rule.

Rows go a batch at a time, each batch in a short transaction of its own, so a prune of millions
of rows never holds a lock (or SQLite's single write lock) for longer than one batch takes, and
the workers, the API and the dashboard go on between batches.
"""

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.models import AuditEvent


class Budget:
    """A time limit shared by every kind one prune goes through."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def spent(self) -> bool:
        return time.monotonic() >= self.deadline


@dataclass
class PruneReport:
    """What one kind of row lost, or would lose (dry run).

    `older`: rows past the limit; `kept`: of those, how many each rule keeps (each row counted
    under the first rule that keeps it, in the order the rules are given); `recent`: rows
    younger than the limit (dry run only). `deleted` is what went (or would go), `cascaded`
    the rows of other models that go with them, by name. `done` is False when the time budget
    ran out first: the next prune goes on where this one stopped.
    """

    kind: str
    days: int
    deleted: int = 0
    cascaded: Counter = field(default_factory=Counter)
    older: int | None = None
    recent: int | None = None
    kept: dict[str, int] = field(default_factory=dict)
    done: bool = True


@dataclass(frozen=True)
class Rule:
    """A reason to keep a row past the limit: a name for people and the condition it keeps."""

    name: str
    keeps: Q


def cutoff_for(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)


def prunable(older: QuerySet, rules: Sequence[Rule]) -> QuerySet:
    for rule in rules:
        older = older.exclude(rule.keeps)
    return older


def _after(order: str, key: tuple) -> Q:
    """Rows past `key` (the last (order value, pk) of the previous window) in (order, pk) order."""
    if order == "pk":
        return Q(pk__gt=key[1])
    return Q(**{f"{order}__gt": key[0]}) | Q(**{order: key[0], "pk__gt": key[1]})


def batches_delete(*, rows: QuerySet, rules: Sequence[Rule] = (), order: str = "pk", batch_size: int,
                   budget: Budget) -> tuple[Counter, bool]:
    """Deletes the rows of `rows` that no rule keeps, until none is left (True) or the budget is
    spent (False); returns the rows deleted per model label, cascades included.

    It walks `rows` oldest first by `order` (a field an index serves, e.g. queued_at) in windows
    of `batch_size`, so each batch evaluates the rules for its own window only, never for every
    old row; rows a rule keeps are stepped over. Each window is then deleted in a short
    transaction of its own: its rows are chosen again there with every condition, and on
    PostgreSQL locked as they are chosen (SKIP LOCKED: a row another transaction is changing
    waits for the next prune), so a row that stopped qualifying meanwhile (a delivery resent) is
    never deleted. Related rows follow Django's on_delete rules (SET_NULL, CASCADE).
    """
    deleted: Counter = Counter()
    model, key = rows.model, None
    while not budget.spent():
        window = rows.order_by(order, "pk") if order != "pk" else rows.order_by("pk")
        if key is not None:
            window = window.filter(_after(order, key))
        keys = list(window.values_list(order, "pk")[:batch_size])
        if not keys:
            return deleted, True
        key = keys[-1]
        with transaction.atomic():
            chosen = prunable(rows.filter(pk__in=[pk for _, pk in keys]), rules).order_by()
            ids = list(chosen.select_for_update(skip_locked=True).values_list("pk", flat=True))
            if ids:
                # Only the keys: the collector needs nothing else, and runs carry large JSON.
                deleted.update(model._base_manager.filter(pk__in=ids).only("pk").delete()[1])
        if len(keys) < batch_size:
            return deleted, True
    return deleted, False


def rows_prune(*, kind: str, days: int, older: QuerySet, order: str, rules: list[Rule], dry_run: bool,
               batch_size: int, budget: Budget,
               cascades: dict[str, Callable[[QuerySet], QuerySet]] | None = None) -> PruneReport:
    """Prunes (or with `dry_run` counts) the rows of `older` that no rule keeps, walking them by `order`.

    `cascades` gives, for the dry run, other models' rows that would go with the candidates:
    by plural name, a function from the candidates to those rows (a delivery's attempts).
    """
    candidates = prunable(older, rules)
    report = PruneReport(kind=kind, days=days)
    if dry_run:
        report.older = older.count()
        report.recent = older.model._base_manager.count() - report.older
        remaining = older
        for rule in rules:
            report.kept[rule.name] = remaining.filter(rule.keeps).count()
            remaining = remaining.exclude(rule.keeps)
        report.deleted = candidates.count()
        for name, rows in (cascades or {}).items():
            report.cascaded[name] = rows(candidates).count()
        return report
    counts, report.done = batches_delete(rows=older, rules=rules, order=order, batch_size=batch_size, budget=budget)
    label = older.model._meta.label
    report.deleted = counts.pop(label, 0)
    report.cascaded.update({str(apps.get_model(name)._meta.verbose_name_plural): n for name, n in counts.items() if n})
    return report


def audit_prune(*, dry_run: bool, batch_size: int, budget: Budget) -> PruneReport:
    """Audit rows older than RETENTION_AUDIT_DAYS; nothing else keeps them."""
    days = settings.RETENTION_AUDIT_DAYS
    return rows_prune(kind="audit events", days=days, older=AuditEvent.objects.filter(at__lt=cutoff_for(days)),
                      order="at", rules=[], dry_run=dry_run, batch_size=batch_size, budget=budget)
