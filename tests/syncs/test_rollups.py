"""Per-hour run rollups: each run that finishes adds to its hour once, two workers never lose an
increment, and a rebuild from the runs equals the increments."""

import importlib
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import close_old_connections
from django.db import connection as db

from core.errors import CatalogError
from syncs.engine import run_execute
from syncs.models import RunHourlyRollup, RunHourlyTotal, SyncRun
from syncs.outcomes import run_finish_cancelled, run_finish_failed
from syncs.retention import history_prune
from syncs.rollups import rollup_add, rollups_prune, rollups_rebuild
from tests.syncs.factories import bare_connection, queued_run, run_row, sandbox_connection

NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)
FIGURES = ("runs", "succeeded", "failed", "cancelled", "fetched", "created", "updated", "deleted",
           "duration_sum_ms", "duration_max_ms")


def snapshot() -> dict:
    rollups = {(r["connection_id"], r["entity"], r["hour"]): tuple(r[f] for f in FIGURES)
               for r in RunHourlyRollup.objects.values("connection_id", "entity", "hour", *FIGURES)}
    totals = {r["hour"]: tuple(r[f] for f in FIGURES) for r in RunHourlyTotal.objects.values("hour", *FIGURES)}
    return {"rollups": rollups, "totals": totals}


def finished(connection, entity, *, status, at, took=10, **counts) -> SyncRun:
    return run_row(connection, entity, status=status, started_at=at - timedelta(seconds=took), finished_at=at,
                   **counts)


@pytest.mark.django_db
def test_it_adds_a_succeeded_run_to_the_hour_it_finished_in():
    with time_machine.travel(NOW, tick=False):
        conn = sandbox_connection(records=25)
        run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run.status == "succeeded"
    rollup = RunHourlyRollup.objects.get(connection=conn, entity="vendors")
    assert rollup.hour == datetime(2026, 6, 15, 10, tzinfo=UTC)
    assert (rollup.runs, rollup.succeeded, rollup.failed, rollup.fetched, rollup.created) == (1, 1, 0, 25, 25)
    total = RunHourlyTotal.objects.get(hour=rollup.hour)
    assert (total.runs, total.fetched, total.created) == (1, 25, 25)


@pytest.mark.django_db
def test_it_adds_failed_and_cancelled_runs_to_their_own_counters():
    conn = bare_connection()
    with time_machine.travel(NOW, tick=False):
        failing = run_row(conn, "vendors", status=SyncRun.Status.RUNNING, started_at=NOW - timedelta(minutes=1))
        run_finish_failed(run=failing, error=CatalogError("UPSTREAM_SERVER_ERROR", "boom"))
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        run_finish_cancelled(run=run_row(conn, "items"))
    failed = RunHourlyRollup.objects.get(entity="vendors")
    cancelled = RunHourlyRollup.objects.get(entity="items")
    assert (failed.hour.hour, failed.runs, failed.failed, failed.duration_sum_ms) == (10, 1, 1, 0)
    assert (cancelled.hour.hour, cancelled.runs, cancelled.cancelled) == (11, 1, 1)


@pytest.mark.django_db
def test_it_counts_two_runs_of_one_hour_in_one_row_with_their_longest_duration():
    conn = bare_connection()
    for took, fetched in ((10, 5), (30, 7)):
        rollup_add(run=finished(conn, "vendors", status="succeeded", at=NOW, took=took, fetched=fetched, updated=2))
    rollup = RunHourlyRollup.objects.get()
    assert (rollup.runs, rollup.fetched, rollup.updated) == (2, 12, 4)
    assert (rollup.duration_sum_ms, rollup.duration_max_ms) == (40_000, 30_000)


@pytest.mark.django_db
def test_it_ignores_a_run_that_has_not_finished():
    rollup_add(run=run_row(bare_connection(), "vendors", status=SyncRun.Status.RUNNING))
    assert not RunHourlyRollup.objects.exists() and not RunHourlyTotal.objects.exists()


@pytest.mark.django_db
def test_it_rebuilds_exactly_what_the_increments_wrote():
    conn, other = bare_connection("A"), bare_connection("B")
    with time_machine.travel(NOW, tick=False):
        for i, (connection, status) in enumerate([(conn, "succeeded"), (conn, "failed"), (other, "succeeded"),
                                                  (other, "cancelled"), (conn, "succeeded")]):
            run = finished(connection, ["vendors", "items"][i % 2], status=status, at=NOW - timedelta(minutes=50 * i),
                           took=3 + i, fetched=10 * i, created=i, updated=2 * i, deleted=i % 2)
            rollup_add(run=run)
        incremental = snapshot()
        result = rollups_rebuild()
    assert result["rollups"] == len(incremental["rollups"]) == 5
    assert snapshot() == incremental


@pytest.mark.django_db
def test_it_prunes_rollups_older_than_the_longest_chart():
    conn = bare_connection()
    with time_machine.travel(NOW, tick=False):
        rollup_add(run=finished(conn, "vendors", status="succeeded", at=NOW - timedelta(days=40)))
        rollup_add(run=finished(conn, "vendors", status="succeeded", at=NOW - timedelta(days=29)))
        assert rollups_prune() == 2
    assert [r.hour.date() for r in RunHourlyRollup.objects.all()] == [(NOW - timedelta(days=29)).date()]


@pytest.mark.django_db(transaction=True)
def test_it_loses_no_increment_when_workers_finish_runs_of_one_hour_together():
    if db.vendor == "sqlite" and db.is_in_memory_db():
        pytest.skip("threads do not share an in-memory SQLite database; run on PostgreSQL or a file")
    conn = bare_connection()
    runs = [finished(conn, "vendors", status="succeeded", at=NOW, fetched=1) for _ in range(8)]
    barrier = threading.Barrier(len(runs))
    errors = []

    def finish(run):
        try:
            barrier.wait()
            rollup_add(run=run)
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            close_old_connections()
            db.close()

    threads = [threading.Thread(target=finish, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rollup = RunHourlyRollup.objects.get()
    assert (rollup.runs, rollup.fetched) == (8, 8)
    assert RunHourlyTotal.objects.get().runs == 8


@pytest.mark.django_db
def test_it_rebuilds_from_the_command_line():
    conn = bare_connection()
    with time_machine.travel(NOW, tick=False):
        finished(conn, "vendors", status="succeeded", at=NOW - timedelta(days=2), fetched=3)
        finished(conn, "vendors", status="failed", at=NOW - timedelta(days=9), fetched=1)
        out = StringIO()
        call_command("rollups_rebuild", "--days", "7", stdout=out)
    assert out.getvalue() == "Rebuilt 1 rollups in 1 hours since 2026-06-08 10:00 UTC.\n"
    assert list(RunHourlyTotal.objects.values_list("runs", "fetched")) == [(1, 3)]


@pytest.mark.django_db
def test_it_prunes_old_rollups_with_the_rest_of_history():
    conn = bare_connection()
    with time_machine.travel(NOW, tick=False):
        rollup_add(run=finished(conn, "vendors", status="succeeded", at=NOW - timedelta(days=40)))
        assert {r.kind: r.deleted for r in history_prune(dry_run=True)}["run rollups"] == 2
        assert RunHourlyRollup.objects.exists()
        assert {r.kind: r.deleted for r in history_prune()}["run rollups"] == 2
    assert not RunHourlyRollup.objects.exists() and not RunHourlyTotal.objects.exists()


@pytest.mark.django_db
def test_it_fills_the_rollups_on_upgrading_from_the_runs_already_kept():
    migration = importlib.import_module("syncs.migrations.0015_run_rollups_backfill")
    conn = bare_connection()
    with time_machine.travel(NOW, tick=False):
        for minutes, status in ((10, "succeeded"), (70, "failed"), (80, "succeeded")):
            rollup_add(run=finished(conn, "vendors", status=status, at=NOW - timedelta(minutes=minutes), fetched=4))
        incremental = snapshot()
        RunHourlyRollup.objects.all().delete()
        RunHourlyTotal.objects.all().delete()
        migration.backfill(apps, None)
    assert snapshot() == incremental and len(incremental["totals"]) == 2
