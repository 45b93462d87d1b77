"""A full re-sync decides deletions from its seen pages, so unchanged records are not rewritten
(docs/architecture.md, "Sync semantics"): exact deletions, across a requeue or a resume, and
no deletion at all when the seen set is incomplete."""

import contextlib
import uuid
from datetime import timedelta

import pytest
from django.db import connection as db
from django.utils import timezone

from connections.models import Connection
from syncs import outcomes
from syncs.engine import RunExecution, run_execute
from syncs.models import Record, SeenPage, SyncRun
from syncs.seen import seen_pages_prune
from syncs.services import sync_run_cancel, sync_trigger
from tests.syncs.factories import TEST_ACTOR, expected, queued_run, sandbox_connection, stored

pytestmark = pytest.mark.django_db

ENTITY = "purchase_orders"


def loaded(*, records: int = 60, **config) -> Connection:
    """A connection whose initial load of `records` purchase orders (pages of 10) succeeded."""
    conn = sandbox_connection(records=records, entities=[ENTITY], **config)
    run = run_execute(run_id=queued_run(conn, ENTITY).pk)
    assert run.status == "succeeded" and run.created == records
    return conn


def reconfigure(conn: Connection, **config) -> Connection:
    Connection.objects.filter(pk=conn.pk).update(config={**conn.config, **config})
    conn.refresh_from_db()
    return conn


def full_run(conn: Connection) -> SyncRun:
    return sync_trigger(connection=conn, entities=[ENTITY], mode="full", trigger="cli")[0].run


def live_ids(conn: Connection) -> set[str]:
    return set(Record.objects.filter(connection=conn, entity=ENTITY, deleted_at__isnull=True)
               .values_list("remote_id", flat=True))


@contextlib.contextmanager
def record_row_writes():
    """Counts the record rows any statement rewrote, inserted or deleted meanwhile: on PostgreSQL
    by each row's xmin (a rewritten row gets a new one), on SQLite with a temporary trigger (the
    engine writes on this thread's connection)."""
    writes: list[int] = []
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SELECT id, xmin::text FROM syncs_record")
            before = dict(cursor.fetchall())
        yield writes
        with db.cursor() as cursor:
            cursor.execute("SELECT id, xmin::text FROM syncs_record")
            after = dict(cursor.fetchall())
        writes.append(sum(1 for rid in before.keys() | after.keys() if before.get(rid) != after.get(rid)))
        return
    with db.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE record_writes (n INTEGER)")
        for event in ("INSERT", "UPDATE", "DELETE"):
            cursor.execute(f"CREATE TEMP TRIGGER record_{event.lower()}_count AFTER {event} ON syncs_record "
                           "BEGIN INSERT INTO record_writes VALUES (1); END")
    yield writes
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM record_writes")
        writes.append(cursor.fetchone()[0])
        for event in ("insert", "update", "delete"):
            cursor.execute(f"DROP TRIGGER record_{event}_count")
        cursor.execute("DROP TABLE record_writes")


@pytest.mark.django_db(transaction=True)
def test_it_writes_no_record_row_on_an_unchanged_full_resync():
    conn = loaded()
    with record_row_writes() as writes:
        run = run_execute(run_id=full_run(conn).pk)
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.unchanged, run.created, run.updated, run.deleted) == (60, 60, 0, 0, 0)
    assert writes == [0]
    assert run.checkpoint["seen_pages"] == 6
    assert not SeenPage.objects.exists(), "a finished run's seen pages are deleted with it"


def test_it_marks_exactly_the_records_deleted_upstream_and_nothing_seen():
    conn = loaded()
    # Some records gone upstream, one changed shape (still seen: a mapping failure is not a deletion).
    reconfigure(conn, deleted_fraction=0.15, faults={"epoch_times_every": 7})
    upstream = set(expected(conn, ENTITY))
    gone = {f"PO{i}" for i in range(60)} - upstream
    assert 1 <= len(gone) <= 20
    run = run_execute(run_id=full_run(conn).pk)
    assert run.status == "succeeded", run.error_message
    assert run.deleted == len(gone) and run.failed_records
    assert live_ids(conn) == upstream
    assert set(Record.objects.filter(connection=conn, entity=ENTITY, deleted_at__isnull=False)
               .values_list("remote_id", flat=True)) == gone


def test_it_resumes_a_requeued_run_with_its_seen_pages_and_deletes_exactly(monkeypatch):
    conn = reconfigure(loaded(records=100), deleted_fraction=0.1)
    real_write_page = RunExecution.write_page

    def requeued_after_the_third_page(self, page):
        real_write_page(self, page)
        if self.run.pages == 3:
            # The worker gives the run back between pages (a long Retry-After, a time limit).
            outcomes.run_requeue(run=self.run, lease=self.lease, reason="test: given back")

    monkeypatch.setattr(RunExecution, "write_page", requeued_after_the_third_page)
    run = full_run(conn)
    run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "queued" and run.pages == 3 and run.checkpoint["seen_pages"] == 3
    marker = uuid.UUID(run.checkpoint["marker"])
    assert SeenPage.objects.filter(marker=marker).count() == 3

    monkeypatch.setattr(RunExecution, "write_page", real_write_page)
    run = run_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error_message
    assert stored(conn, ENTITY) == expected(conn, ENTITY)
    assert run.deleted == 100 - len(expected(conn, ENTITY)) > 0
    assert not SeenPage.objects.filter(marker=marker).exists()


def failed_midway(conn: Connection) -> SyncRun:
    """A full re-sync that crashed after writing three pages, then the fault cleared."""
    reconfigure(conn, deleted_fraction=0.1, faults={"crash_after_page": 3})
    first = run_execute(run_id=full_run(conn).pk)
    assert first.status == "failed" and first.pages == 3
    reconfigure(conn, faults={})
    return first


def test_it_keeps_a_failed_runs_seen_pages_for_the_run_that_resumes_it():
    conn = loaded(records=100)
    first = failed_midway(conn)
    marker = uuid.UUID(first.checkpoint["marker"])
    assert SeenPage.objects.filter(marker=marker).count() == 3 == first.checkpoint["seen_pages"]

    second = run_execute(run_id=full_run(conn).pk)
    assert second.resumed_from_id == first.pk and second.checkpoint["marker"] == str(marker)
    assert second.status == "succeeded", second.error_message
    pages = -(-len(expected(conn, ENTITY)) // 10)
    assert second.pages == second.checkpoint["seen_pages"] == pages
    assert stored(conn, ENTITY) == expected(conn, ENTITY)
    assert second.deleted == 100 - len(expected(conn, ENTITY)) > 0
    assert not SeenPage.objects.exists()


def test_it_deletes_nothing_when_a_seen_page_is_missing():
    conn = loaded(records=100)
    first = failed_midway(conn)
    SeenPage.objects.filter(marker=first.checkpoint["marker"], page=2).delete()  # pruned, say

    second = run_execute(run_id=full_run(conn).pk)
    assert second.status == "succeeded" and second.deleted == 0
    pages = second.checkpoint["seen_pages"]
    assert f"wrote {pages} pages of seen ids but {pages - 1} are stored" in second.error_details["deletion_skipped"]
    assert len(live_ids(conn)) == 100, "records missing upstream are kept rather than guessed at"
    assert not SeenPage.objects.exists()


def test_it_deletes_nothing_when_the_checkpoint_predates_seen_pages():
    conn = loaded(records=100)
    first = failed_midway(conn)
    # A run checkpointed by the version that marked rows instead: its first pages are unknown.
    checkpoint = {key: value for key, value in first.checkpoint.items() if key != "seen_pages"}
    SyncRun.objects.filter(pk=first.pk).update(checkpoint=checkpoint)
    SeenPage.objects.all().delete()

    second = run_execute(run_id=full_run(conn).pk)
    assert second.status == "succeeded" and second.deleted == 0
    assert "predates seen pages" in second.error_details["deletion_skipped"]
    assert second.checkpoint["seen_pages"] is None and not SeenPage.objects.exists()
    assert len(live_ids(conn)) == 100


def test_it_deletes_the_seen_pages_of_a_cancelled_run(monkeypatch):
    conn = loaded(records=50)
    real_write_page = RunExecution.write_page

    def requeued_after_the_second_page(self, page):
        real_write_page(self, page)
        if self.run.pages == 2:
            outcomes.run_requeue(run=self.run, lease=self.lease, reason="test: given back")

    monkeypatch.setattr(RunExecution, "write_page", requeued_after_the_second_page)
    run = full_run(conn)
    run_execute(run_id=run.pk)
    assert SeenPage.objects.filter(marker=run.pk).count() == 2
    run = sync_run_cancel(run=SyncRun.objects.get(pk=run.pk), actor=TEST_ACTOR)
    assert run.status == "cancelled"
    assert not SeenPage.objects.exists()


def test_it_prunes_only_old_seen_pages_no_active_run_can_use(fixed_now):
    conn = loaded(records=10)
    active = SyncRun.objects.get(pk=full_run(conn).pk)
    active_marker = uuid.uuid4()
    SyncRun.objects.filter(pk=active.pk).update(checkpoint={"marker": str(active_marker), "seen_pages": 1})
    orphan, young = uuid.uuid4(), uuid.uuid4()
    now = timezone.now()
    for marker, age in ((orphan, 10), (active_marker, 10), (active.pk, 10), (young, 1)):
        SeenPage.objects.create(marker=marker, page=1, connection=conn, entity=ENTITY, ids=[],
                                created_at=now - timedelta(days=age))

    assert seen_pages_prune(older_than=timedelta(days=7)) == 1
    assert set(SeenPage.objects.values_list("marker", flat=True)) == {active_marker, active.pk, young}
