"""bench_sync: a full sync of N sandbox purchase orders, against a bare COPY of the same rows."""

import resource
import time
import uuid
from dataclasses import dataclass

from django.db import DatabaseError, transaction
from django.db import connection as db

from connections.connectors.base import ReadRequest
from connections.connectors.registry import connector_for
from connections.models import Connection
from core.audit import Actor
from syncs import engine
from syncs.lifecycle import connection_create
from syncs.models import Record, SyncRun
from syncs.reading import ReadPage
from syncs.writers import rows_prepare

BENCH_ACTOR = Actor(name="bench", source="cli")
ENTITY = "purchase_orders"


@dataclass
class BenchResult:
    records: int
    seconds: float
    write_seconds: float  # the engine's page writes during the run, sharing the CPU with reading
    write_alone_seconds: float  # the same writes with pages prepared beforehand, as the bare COPY's are
    copy_seconds: float | None
    peak_rss_mb: float

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds

    @property
    def copy_ratio(self) -> float | None:
        # Throughput ratio over the same rows, each side timed only while writing: ours / bare COPY.
        return self.copy_seconds / self.write_alone_seconds if self.copy_seconds else None


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_connection(*, records: int, page_size: int, name: str = "bench_sync") -> Connection:
    Connection.objects.filter(name=name, customer__name="Benchmark").delete()
    connection, _ = connection_create(
        customer_name="Benchmark", connector="sandbox", name=name,
        config={"seed": 42, "records": {ENTITY: records}, "page_size": page_size}, credentials={"api_key": "bench"},
        entities=[ENTITY], actor=BENCH_ACTOR)
    return connection


class TimedExecution(engine.RunExecution):
    """The engine's run, timing the page transactions (write + checkpoint + commit) apart."""

    write_seconds = 0.0

    def write_page(self, page):
        start = time.perf_counter()
        super().write_page(page)
        TimedExecution.write_seconds += time.perf_counter() - start


def bench_claim(*, connection: Connection) -> tuple[SyncRun, object]:
    run = SyncRun.objects.get(connection=connection, entity=ENTITY, status=SyncRun.Status.QUEUED)
    claimed, lease = engine.run_claim(run_id=run.pk)
    return claimed, lease


def bench_full_sync(*, connection: Connection) -> tuple[SyncRun, float, float]:
    run, lease = bench_claim(connection=connection)
    TimedExecution.write_seconds = 0.0
    start = time.perf_counter()
    TimedExecution(run, lease=lease).execute()
    seconds = time.perf_counter() - start
    run.refresh_from_db()
    return run, seconds, TimedExecution.write_seconds


def bench_write_alone(*, records: int, page_size: int) -> float:
    """The engine's own page writes (records, checkpoint, commit) for a second connection, each
    page prepared untimed first: the write path measured the way the bare COPY is."""
    connection = bench_connection(records=records, page_size=page_size, name="bench_sync_write")
    run, lease = bench_claim(connection=connection)
    execution = engine.RunExecution(run, lease=lease)
    execution.writer_prepare()
    seconds = 0.0
    for page in execution.connector.pages(execution.request_for({})):
        item = ReadPage(execution.prepare(page), len(page.records), page.next_checkpoint)
        start = time.perf_counter()
        execution.write_page(item)
        seconds += time.perf_counter() - start
    if execution.run.created != records:
        raise RuntimeError(f"the write-alone pass stored {execution.run.created} of {records} records")
    bench_cleanup(connection=connection)
    return seconds


def bench_bare_copy(*, connection: Connection) -> float:
    """The same rows, prepared untimed, COPY'd into an index-free scratch table: the ceiling."""
    connector = connector_for(connection)
    seconds = 0.0
    with transaction.atomic(), db.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_scratch")
        # The record table's columns and storage (compression), without its indexes and constraints.
        cursor.execute("CREATE TABLE bench_copy_scratch (LIKE syncs_record INCLUDING COMPRESSION INCLUDING STORAGE)")
        marker = uuid.uuid4()
        for page in connector.pages(ReadRequest(ENTITY, since=None, window_start=None, checkpoint={})):
            rows = rows_prepare(connector=connector, entity=ENTITY, connection_id=connection.id,
                                raws=page.records).rows
            start = time.perf_counter()
            with cursor.cursor.copy("COPY bench_copy_scratch (id, connection_id, entity, remote_id, data, raw, "
                                    "content_hash, input_hash, remote_updated_at, modified_at, last_seen_run, "
                                    "deleted_at, change_seq) "
                                    "FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((r.id, connection.id, ENTITY, r.remote_id, r.data, r.raw, r.content_hash,
                                    r.input_hash, r.remote_updated_at, r.remote_updated_at, marker, None, 1))
            seconds += time.perf_counter() - start
        start = time.perf_counter()
    seconds += time.perf_counter() - start  # the commit
    with db.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy_scratch")
    return seconds


def bench_sync(*, records: int, page_size: int = 1000) -> BenchResult:
    """Three passes over the same N rows, each starting from an equally clean table: the engine's
    run end to end, the bare COPY, and the engine's writes alone."""
    connection = bench_connection(records=records, page_size=page_size)
    run, seconds, write_seconds = bench_full_sync(connection=connection)
    if run.status != SyncRun.Status.SUCCEEDED or run.created != records:
        raise RuntimeError(f"bench run ended {run.status} with {run.created} created: {run.error_message}")
    bench_settle()
    copy_seconds = bench_bare_copy(connection=connection) if db.vendor == "postgresql" else None
    bench_cleanup(connection=connection)
    write_alone_seconds = bench_write_alone(records=records, page_size=page_size)
    return BenchResult(records=records, seconds=seconds, write_seconds=write_seconds,
                       write_alone_seconds=write_alone_seconds, copy_seconds=copy_seconds, peak_rss_mb=peak_rss_mb())


def bench_cleanup(*, connection: Connection) -> None:
    Record.objects.filter(connection=connection).delete()
    connection.delete()
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            # A million dead rows left to autovacuum would slow the next pass and skew its figures.
            cursor.execute("VACUUM syncs_record")
        bench_settle()


def bench_settle() -> None:
    """Flushes one pass's writes before the next is timed, so no pass pays for another's."""
    if db.vendor != "postgresql":
        return
    with db.cursor() as cursor:
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError:
            pass  # needs a superuser or the pg_checkpoint role; the figures are only noisier without it
