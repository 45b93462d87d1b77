"""What a whole-window run saw, without rewriting what it saw (docs/architecture.md, "Sync semantics").

Each page of a full re-sync (or of an incremental run whose upstream cannot filter by
changed-since) stores the ids it read as one SeenPage row, in the page's own transaction, and
its checkpoint counts those rows. At the end one anti-join finds the window's records that no
page saw. The count guards the decision: a seen set with a page missing (pruned, lost) would
make seen records look deleted, so a run whose stored pages do not match its count deletes
nothing and says so.
"""

import uuid
from datetime import timedelta

from django.db import connection as db
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from syncs.models import SeenPage, SyncRun


def seen_pages_count(*, marker: uuid.UUID) -> int:
    return SeenPage.objects.filter(marker=marker).count()


def seen_pages_incomplete(*, marker: uuid.UUID, expected: int | None) -> str:
    """Why the run's seen set cannot be trusted, or "" when its stored pages are all there."""
    if expected is None:
        return ("the run's checkpoint predates seen pages (written by an older version), so the pages read "
                "before it resumed are not known; none were marked deleted")
    stored = seen_pages_count(marker=marker)
    if stored != expected:
        return (f"the run wrote {expected} pages of seen ids but {stored} are stored (pruned or lost?), so a "
                "seen record could look missing; none were marked deleted")
    return ""


def seen_pages_clear(*, marker: uuid.UUID) -> int:
    """Called in the transaction that ends a run (succeeded or cancelled): nothing resumes it."""
    deleted, _ = SeenPage.objects.filter(marker=marker).delete()
    return deleted


def unseen_condition(*, marker: uuid.UUID) -> RawSQL:
    """A filter on syncs_record: the record is on no seen page of `marker`.

    PostgreSQL gets NOT EXISTS, which it plans as one hashed anti-join (NOT IN would fall back to
    a scan per record once the ids outgrow work_mem); SQLite gets NOT IN, which it answers from
    one temporary index of the ids. Record ids are 32 hex digits on SQLite, as stored."""
    if db.vendor == "postgresql":
        return RawSQL('NOT EXISTS (SELECT 1 FROM syncs_seenpage s CROSS JOIN LATERAL jsonb_array_elements_text(s.ids)'
                      ' e WHERE s.marker = %s AND e.value::uuid = "syncs_record"."id")', [marker],
                      output_field=BooleanField())
    return RawSQL('"syncs_record"."id" NOT IN (SELECT e.value FROM syncs_seenpage s, json_each(s.ids) e '
                  'WHERE s.marker = %s)', [marker.hex], output_field=BooleanField())


def seen_pages_prune(*, older_than: timedelta) -> int:
    """Deletes seen pages older than `older_than` that no queued or running run can still use:
    those of failed runs that no retry resumed (yet). Safe even when a run does resume after
    all: its stored pages then fall short of its checkpoint's count, and it deletes nothing
    (seen_pages_incomplete). Returns how many rows went."""
    cutoff = timezone.now() - older_than
    runs = list(SyncRun.objects.filter(status__in=SyncRun.ACTIVE_STATUSES).values_list("id", "checkpoint"))
    # A run's marker is its id until its checkpoint names one (taken over from the run it resumes).
    active = {run_id for run_id, _ in runs} | {uuid.UUID(cp["marker"]) for _, cp in runs if (cp or {}).get("marker")}
    old = SeenPage.objects.filter(created_at__lt=cutoff).exclude(marker__in=active)
    deleted, _ = old.delete()
    return deleted
