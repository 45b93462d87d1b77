"""Per-hour rollups of finished runs (docs/architecture.md, "Charts and rollups"): what the
overview's and a connection's charts read, so a page costs the same at a million runs as at a
thousand.

A run adds itself once, in the transaction that gives it its final state (syncs/outcomes.py),
with one INSERT ... ON CONFLICT DO UPDATE per table that increments the counters in the
database: two workers finishing runs of the same hour both count, on SQLite and PostgreSQL.
`rollups_rebuild` recomputes them from the runs (a backfill after upgrading, or a repair).
"""

from datetime import datetime, timedelta

from django.db import connection as db
from django.db import models, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from syncs.models import RunHourlyRollup, RunHourlyTotal, SyncRun

# The longest chart shows 30 days in daily bars aligned on UTC midnight: 31 days of hours, and one to spare.
ROLLUP_DAYS = 32
COUNTERS = ("runs", "succeeded", "failed", "cancelled", "fetched", "created", "updated", "deleted",
            "duration_sum_ms")
STATUS_COUNTERS = {SyncRun.Status.SUCCEEDED: "succeeded", SyncRun.Status.FAILED: "failed",
                   SyncRun.Status.CANCELLED: "cancelled"}


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def run_figures(run: SyncRun) -> dict:
    """What one finished run adds to its hour."""
    took = run.duration if run.status == SyncRun.Status.SUCCEEDED else None
    duration_ms = max(0, int(took.total_seconds() * 1000)) if took is not None else 0
    figures = dict.fromkeys(COUNTERS, 0)
    figures.update(runs=1, fetched=run.fetched, created=run.created, updated=run.updated, deleted=run.deleted,
                   duration_sum_ms=duration_ms, duration_max_ms=duration_ms)
    if run.status in STATUS_COUNTERS:
        figures[STATUS_COUNTERS[run.status]] = 1
    return figures


def rollup_add(*, run: SyncRun) -> None:
    """Adds a run that has just reached its final state to its hour's rollups. Called last in
    the run's final transaction, so the two rows it locks are held only until that commits."""
    if run.finished_at is None or run.status not in STATUS_COUNTERS:
        return
    figures = run_figures(run)
    hour = hour_of(run.finished_at)
    # Part of the caller's transaction (no savepoint); a transaction of its own when called outside one.
    with transaction.atomic(savepoint=False):
        _upsert(RunHourlyRollup, keys={"connection_id": run.connection_id, "entity": run.entity, "hour": hour},
                figures=figures)
        _upsert(RunHourlyTotal, keys={"hour": hour}, figures=figures)


def _upsert(model: type[models.Model], *, keys: dict, figures: dict) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, adding each counter to the stored one: one
    statement, so no lost update between two workers, and no read first."""
    meta, quote = model._meta, db.ops.quote_name
    fields = [meta.get_field(name.removesuffix("_id")) for name in [*keys, *figures]]
    values = [f.get_db_prep_value(value, db) for f, value in zip(fields, [*keys.values(), *figures.values()],
                                                                  strict=True)]
    table = quote(meta.db_table)
    columns = [quote(f.column) for f in fields]
    key_columns = columns[:len(keys)]
    updates = [f"{c} = {table}.{c} + excluded.{c}" for c in columns[len(keys):] if c != quote("duration_max_ms")]
    # GREATEST on PostgreSQL, the two-argument MAX on SQLite.
    greatest = "GREATEST" if db.vendor == "postgresql" else "MAX"
    updates.append(f'{quote("duration_max_ms")} = {greatest}({table}.{quote("duration_max_ms")}, '
                   f'excluded.{quote("duration_max_ms")})')
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
           f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {', '.join(updates)}")
    with db.cursor() as cursor:
        cursor.execute(sql, values)


def _aggregates() -> dict:
    took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    succeeded = Q(status=SyncRun.Status.SUCCEEDED)
    return {
        "runs": Count("id"),
        **{name: Count("id", filter=Q(status=status)) for status, name in STATUS_COUNTERS.items()},
        **{name: Sum(name) for name in ("fetched", "created", "updated", "deleted")},
        "duration_sum": Sum(took, filter=succeeded),
        "duration_max": Max(took, filter=succeeded),
    }


def _rollup_row(row: dict, **keys) -> dict:
    def ms(value) -> int:
        return max(0, int(value.total_seconds() * 1000)) if value is not None else 0

    return {**keys, **{name: row[name] or 0 for name in COUNTERS if name != "duration_sum_ms"},
            "duration_sum_ms": ms(row["duration_sum"]), "duration_max_ms": ms(row["duration_max"])}


def rollups_rebuild(*, since: datetime | None = None, batch_size: int = 5000, models_: tuple | None = None) -> dict:
    """Recomputes the rollups of every hour from `since` (default: the last ROLLUP_DAYS days)
    from the runs retention kept, in one transaction. What it writes equals what the runs'
    own increments would have written. `models_` is (runs, rollups, totals): a migration passes
    its historical models, so the backfill after upgrading is this same code."""
    run_model, rollup_model, total_model = models_ or (SyncRun, RunHourlyRollup, RunHourlyTotal)
    since = hour_of(since or timezone.now() - timedelta(days=ROLLUP_DAYS))
    # Hour by hour, as runs finishing write them: the rows of one hour sit together on disk.
    runs = (run_model.objects.filter(finished_at__gte=since, status__in=list(STATUS_COUNTERS))
            .annotate(at=TruncHour("finished_at")).order_by("at"))
    with transaction.atomic():
        rollup_model.objects.filter(hour__gte=since).delete()
        total_model.objects.filter(hour__gte=since).delete()
        rows = (rollup_model(**_rollup_row(row, hour=row["at"], connection_id=row["connection_id"],
                                           entity=row["entity"]))
                for row in runs.values("at", "connection_id", "entity").annotate(**_aggregates()).iterator())
        rollups = _bulk_create(rollup_model, rows, batch_size=batch_size)
        totals = _bulk_create(total_model, (total_model(**_rollup_row(row, hour=row["at"]))
                                            for row in runs.values("at").annotate(**_aggregates()).iterator()),
                              batch_size=batch_size)
    return {"since": since, "rollups": rollups, "hours": totals}


def _bulk_create(model, objects, *, batch_size: int) -> int:
    count, batch = 0, []
    for obj in objects:
        batch.append(obj)
        if len(batch) >= batch_size:
            model.objects.bulk_create(batch)
            count, batch = count + len(batch), []
    model.objects.bulk_create(batch)
    return count + len(batch)


def rollups_prune(*, now: datetime | None = None) -> int:
    """Rollups older than the longest chart: few rows (one per connection, entity and hour at
    most), so one statement each."""
    cutoff = hour_of((now or timezone.now()) - timedelta(days=ROLLUP_DAYS))
    deleted, _ = RunHourlyRollup.objects.filter(hour__lt=cutoff).delete()
    totals, _ = RunHourlyTotal.objects.filter(hour__lt=cutoff).delete()
    return deleted + totals
