"""Sync runs: a keyset-paged, filtered list and one run with everything about it."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.shortcuts import get_object_or_404

from connections.connectors.entities import ENTITIES
from dashboard.selectors.common import KeysetPage, keyset_page
from dashboard.selectors.connections import connection_matches
from syncs.dispatch import SLOT_WAIT, run_slot_waiting
from syncs.models import Incident, SyncRun, Trigger

# Only the columns a list row shows: the JSON columns (timeline, checkpoint) can be large.
LIST_FIELDS = ("id", "connection_id", "connection__name", "connection__customer__name", "entity", "mode", "trigger",
               "status", "queued_at", "started_at", "finished_at", "pages", "fetched", "created", "updated",
               "deleted", "failed_records", "total_records", "error_code", "requested_by", "cancel_requested",
               "not_before", "wait_reason")
# Below this much reading, a rate is too noisy to promise an end time from.
ETA_MIN_SECONDS = 2


@dataclass(frozen=True)
class RunProgress:
    percent: int
    eta: datetime | None  # UTC; None while the rate is not known yet
    seconds_left: float | None


@dataclass(frozen=True)
class RunFilters:
    status: str = ""
    entity: str = ""
    trigger: str = ""
    mode: str = ""
    connection: uuid.UUID | None = None
    connection_q: str = ""
    since: datetime | None = None
    until: datetime | None = None

    @property
    def active(self) -> bool:
        return any((self.status, self.entity, self.trigger, self.mode, self.connection, self.connection_q,
                    self.since, self.until))


def run_filter_choices() -> dict:
    return {"statuses": SyncRun.Status.values, "entities": ENTITIES, "triggers": Trigger.values,
            "modes": ["incremental", "full"]}


def run_list(*, filters: RunFilters, cursor: str | None) -> KeysetPage:
    runs = SyncRun.objects.select_related("connection__customer").only(*LIST_FIELDS)
    for name in ("status", "entity", "trigger", "mode"):
        if value := getattr(filters, name):
            runs = runs.filter(**{name: value})
    if filters.connection:
        runs = runs.filter(connection_id=filters.connection)
    elif filters.connection_q:
        runs = runs.filter(connection_id__in=connection_matches(q=filters.connection_q))
    if filters.since:
        runs = runs.filter(queued_at__gte=filters.since)
    if filters.until:
        runs = runs.filter(queued_at__lt=filters.until)
    return keyset_page(runs, time_field="queued_at", cursor=cursor, pk_type=uuid.UUID)


def run_progress(*, run: SyncRun, now: datetime) -> RunProgress | None:
    """How far a running run is, where the upstream reported a total (Page.total, kept as
    total_records), and when it should end at the rate it has read so far. None for a run that is
    not running or whose connector reports no total."""
    if run.status != SyncRun.Status.RUNNING or not run.total_records:
        return None
    percent = min(100, run.fetched * 100 // run.total_records)
    elapsed = (now - run.started_at).total_seconds() if run.started_at else 0
    left = max(0, run.total_records - run.fetched)
    if elapsed < ETA_MIN_SECONDS or not run.fetched:
        return RunProgress(percent=percent, eta=None, seconds_left=None)
    seconds_left = left * elapsed / run.fetched
    return RunProgress(percent=percent, eta=(now + timedelta(seconds=seconds_left)).astimezone(UTC),
                       seconds_left=seconds_left)


def runs_any_active(runs) -> bool:
    """Whether a page of runs has one still queued or running: the list polls only then."""
    return any(run.is_active for run in runs)


def run_get(*, run_id) -> SyncRun:
    return get_object_or_404(SyncRun.objects.select_related("connection__customer"), pk=run_id)


def run_related(*, run: SyncRun) -> dict:
    """The runs it resumed from and that resumed it, the incidents it counts in, and what a queued
    run waits for: four queries at most."""
    return {
        "waiting": run.waiting or ({"reason": SLOT_WAIT, "until": None} if run_slot_waiting(run) else None),
        "resumed_from": (SyncRun.objects.only("id", "status", "queued_at").filter(pk=run.resumed_from_id).first()
                         if run.resumed_from_id else None),
        "resumed_by": list(SyncRun.objects.only("id", "status", "queued_at").filter(resumed_from=run)[:5]),
        "incidents": list(Incident.objects.filter(last_run=run)),
    }
