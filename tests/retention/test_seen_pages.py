"""syncs/retention.py: the seen pages of runs that failed and were never resumed go after a week;
those a queued or running run may still finish with stay."""

import uuid

import pytest

from syncs.models import SeenPage, SyncRun
from syncs.retention import SEEN_PAGES_DAYS, history_prune, seen_pages_history_prune
from tests.connections.factories import ConnectionFactory
from tests.retention.factories import days_ago

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fixed_now")]


def seen(conn, marker: uuid.UUID, *, days: float, pages: int = 2) -> None:
    SeenPage.objects.bulk_create([SeenPage(marker=marker, page=n, connection=conn, entity="vendors",
                                           ids=[uuid.uuid4().hex], created_at=days_ago(days))
                                  for n in range(1, pages + 1)])


def markers() -> set:
    return set(SeenPage.objects.values_list("marker", flat=True))


def test_it_prunes_week_old_pages_of_runs_nobody_resumes_and_keeps_the_rest():
    conn = ConnectionFactory()
    abandoned, recent = uuid.uuid4(), uuid.uuid4()
    seen(conn, abandoned, days=SEEN_PAGES_DAYS + 1)
    seen(conn, recent, days=SEEN_PAGES_DAYS - 1)
    # A run resumed from a failed one carries the failed run's marker in its checkpoint.
    resuming = SyncRun.objects.create(connection=conn, entity="vendors", status="queued",
                                      checkpoint={"marker": str(uuid.uuid4())})
    seen(conn, uuid.UUID(resuming.checkpoint["marker"]), days=SEEN_PAGES_DAYS + 3)

    assert seen_pages_history_prune(dry_run=True).deleted == 4, "the dry run counts every old page"
    assert len(markers()) == 3, "and deletes nothing"

    reports = {r.kind: r for r in history_prune()}
    assert reports["seen pages"].deleted == 2
    assert markers() == {recent, uuid.UUID(resuming.checkpoint["marker"])}
