"""Sync runs: a keyset-paged, filtered list and one run with everything about it."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.shortcuts import get_object_or_404

from connections.connectors.entities import ENTITIES
from dashboard.selectors.common import KeysetPage, keyset_page
from syncs.dispatch import SLOT_WAIT, run_slot_waiting
from syncs.models import Incident, SyncRun, Trigger

# Only the columns a list row shows: the JSON columns (timeline, checkpoint) can be large.
LIST_FIELDS = ("id", "connection_id", "connection__name", "connection__customer__name", "entity", "mode", "trigger",
               "status", "queued_at", "started_at", "finished_at", "pages", "fetched", "created", "updated",
               "deleted", "failed_records", "total_records", "error_code", "requested_by", "cancel_requested")


@dataclass(frozen=True)
class RunFilters:
    status: str = ""
    entity: str = ""
    trigger: str = ""
    mode: str = ""
    connection: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def active(self) -> bool:
        return any((self.status, self.entity, self.trigger, self.mode, self.connection, self.since, self.until))


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
    if filters.since:
        runs = runs.filter(queued_at__gte=filters.since)
    if filters.until:
        runs = runs.filter(queued_at__lt=filters.until)
    return keyset_page(runs, time_field="queued_at", cursor=cursor, pk_type=uuid.UUID)


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
