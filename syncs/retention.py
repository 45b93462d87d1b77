"""Bounded history (docs/architecture.md#retention): the sync runs' rules, and `history_prune`,
which prunes every kind of history in turn (runs, webhooks, audit) within one time budget.

It lives in syncs because syncs may import webhooks and core, and neither may import syncs.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from core.retention import Budget, PruneReport, Rule, audit_prune, cutoff_for, rows_prune
from syncs.models import Incident, RunHourlyRollup, RunHourlyTotal, SeenPage, SyncRun, SyncState
from syncs.rollups import ROLLUP_DAYS, rollups_prune
from syncs.seen import seen_pages_prune
from webhooks import retention as webhook_retention


def run_rules() -> list[Rule]:
    newer = SyncRun.objects.filter(connection=OuterRef("connection"), entity=OuterRef("entity"),
                                   queued_at__gt=OuterRef("queued_at"))
    return [
        Rule("active", Q(status__in=SyncRun.ACTIVE_STATUSES)),
        # What the connection page and the scheduler show as "last run" must stay readable.
        Rule("latest of its entity", Q(~Exists(newer))),
        Rule("an entity's last run", Q(Exists(SyncState.objects.filter(last_run=OuterRef("pk"))))),
        Rule("an unresolved incident's run",
             Q(Exists(Incident.objects.filter(last_run=OuterRef("pk"), status__in=Incident.UNRESOLVED)))),
    ]


def runs_older(cutoff):
    """Runs that ended before `cutoff`: by finished_at, else (never finished) by queued_at."""
    # A run finishes after it is queued, so queued_at bounds both cases (and the batches walk
    # its index).
    return SyncRun.objects.filter(Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True), queued_at__lt=cutoff)


def runs_prune(*, dry_run: bool, batch_size: int, budget: Budget) -> PruneReport:
    """Runs that ended more than RETENTION_RUN_DAYS ago that no rule keeps."""
    days = settings.RETENTION_RUN_DAYS
    return rows_prune(kind="sync runs", days=days, older=runs_older(cutoff_for(days)), order="queued_at",
                      rules=run_rules(), dry_run=dry_run, batch_size=batch_size, budget=budget)


# Seen pages of a run that failed and was not resumed (yet) wait this long for the retry that
# would need them; a retry after that finds its seen set short and deletes nothing (syncs/seen.py).
SEEN_PAGES_DAYS = 7


def seen_pages_history_prune(*, dry_run: bool, **_) -> PruneReport:
    """The seen pages no run will finish with. Few rows (a finished run clears its own), so one
    statement. The dry run counts every old page, even one a run active for over a week holds."""
    report = PruneReport(kind="seen pages", days=SEEN_PAGES_DAYS)
    if dry_run:
        report.deleted = SeenPage.objects.filter(created_at__lt=cutoff_for(SEEN_PAGES_DAYS)).count()
    else:
        report.deleted = seen_pages_prune(older_than=timedelta(days=SEEN_PAGES_DAYS))
    return report


def rollups_history_prune(*, dry_run: bool, **_) -> PruneReport:
    """Run rollups older than the longest chart (syncs/rollups.py)."""
    report = PruneReport(kind="run rollups", days=ROLLUP_DAYS)
    if dry_run:
        cutoff = cutoff_for(ROLLUP_DAYS)
        report.deleted = sum(model.objects.filter(hour__lt=cutoff).count()
                             for model in (RunHourlyRollup, RunHourlyTotal))
    else:
        report.deleted = rollups_prune()
    return report


def history_prune(*, dry_run: bool = False, batch_size: int | None = None,
                  seconds: float | None = None) -> list[PruneReport]:
    """Prunes (or with `dry_run` counts) every kind of history, one report per kind.

    Deliveries go before the events they belong to (webhooks/retention.py). What the time
    budget leaves undone (a report with done=False) the next prune goes on with.
    """
    budget = Budget(settings.RETENTION_PRUNE_SECONDS if seconds is None else seconds)
    options = {"dry_run": dry_run, "batch_size": batch_size or settings.RETENTION_BATCH_SIZE, "budget": budget}
    return [
        runs_prune(**options),
        seen_pages_history_prune(**options),
        rollups_history_prune(**options),
        webhook_retention.endpoints_purge_deleted(**options),
        webhook_retention.deliveries_prune(**options),
        webhook_retention.events_prune(**options),
        audit_prune(**options),
    ]
