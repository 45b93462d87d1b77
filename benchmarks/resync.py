"""bench_sync --resync: a full re-sync of N sandbox purchase orders that did not change, against
the initial load of the same records. The re-sync reads and hashes every record's input but maps
(normalize()) and writes none, so it should run well ahead of the load (docs/performance.md)."""

import time
from dataclasses import dataclass

from django.db import connection as db

from benchmarks.sync import ENTITY, TimedExecution, bench_claim, bench_cleanup, bench_connection, bench_settle
from syncs.models import Mode, SyncRun, Trigger
from syncs.services import sync_trigger


@dataclass
class ResyncResult:
    records: int
    load_seconds: float
    resync_seconds: float
    resync_write_seconds: float  # the page transactions of the re-sync (classify, seen ids, checkpoint)
    pages: int
    # Record rows the re-sync wrote (PostgreSQL: rows whose xmin moved); None on SQLite.
    rows_written: int | None

    @property
    def load_rate(self) -> float:
        return self.records / self.load_seconds

    @property
    def resync_rate(self) -> float:
        return self.records / self.resync_seconds

    @property
    def ratio(self) -> float:
        return self.resync_rate / self.load_rate


def bench_resync(*, records: int, page_size: int = 1000) -> ResyncResult:
    connection = bench_connection(records=records, page_size=page_size, name="bench_sync_resync")
    load, load_seconds = _timed_run(connection=connection)
    if load.status != SyncRun.Status.SUCCEEDED or load.created != records:
        raise RuntimeError(f"bench load ended {load.status} with {load.created} created: {load.error_message}")
    bench_settle()
    before = _row_versions(connection=connection)
    sync_trigger(connection=connection, entities=[ENTITY], mode=Mode.FULL, trigger=Trigger.CLI)
    TimedExecution.write_seconds = 0.0
    resync, resync_seconds = _timed_run(connection=connection)
    write_seconds = TimedExecution.write_seconds
    if resync.status != SyncRun.Status.SUCCEEDED or resync.unchanged != records or resync.deleted:
        raise RuntimeError(f"bench re-sync ended {resync.status} with {resync.unchanged} unchanged, "
                           f"{resync.deleted} deleted: {resync.error_message}")
    after = _row_versions(connection=connection)
    written = None if before is None else sum(1 for rid, version in after.items() if before.get(rid) != version)
    bench_cleanup(connection=connection)
    return ResyncResult(records=records, load_seconds=load_seconds, resync_seconds=resync_seconds,
                        resync_write_seconds=write_seconds, pages=resync.pages, rows_written=written)


def _timed_run(*, connection) -> tuple[SyncRun, float]:
    run, lease = bench_claim(connection=connection)
    start = time.perf_counter()
    TimedExecution(run, lease=lease).execute()
    seconds = time.perf_counter() - start
    run.refresh_from_db()
    return run, seconds


def _row_versions(*, connection) -> dict | None:
    """Each record row's xmin: a row any statement rewrote has a new one."""
    if db.vendor != "postgresql":
        return None
    with db.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text FROM syncs_record WHERE connection_id = %s", [connection.id])
        return dict(cursor.fetchall())
