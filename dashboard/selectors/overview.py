"""The overview: counts, the charts' series, the slowest and the most-failing connections.

Every figure about runs comes from the per-hour rollups (syncs/rollups.py) or the few active
runs, never from scanning the runs, so the page costs the same at a million runs as at a thousand.
"""

from datetime import datetime, timedelta

from django.db.models import Count, F, Q, Sum

from connections.models import Connection
from core.errors import spec_for
from dashboard.selectors.charts import ChartRange, changed, run_totals, series
from syncs.models import Incident, RunHourlyRollup, RunHourlyTotal, SyncRun
from syncs.rollups import hour_of
from webhooks.models import Endpoint

LEADERS = 5
# "The last 24 h" in rollups: the current hour and the 23 before it.
DAY_HOURS = 24


def day_start(now: datetime) -> datetime:
    return hour_of(now) - timedelta(hours=DAY_HOURS - 1)


def overview_summary(*, now: datetime) -> dict:
    by_status = dict(Connection.objects.values_list("status").annotate(n=Count("id")).order_by())
    runs_24h = runs_last_day(now=now)
    incidents = incidents_summary()
    endpoints = Endpoint.objects.aggregate(
        total=Count("id"), disabled=Count("id", filter=Q(enabled=False)),
        failing=Count("id", filter=Q(enabled=True, failing_since__isnull=False)))
    return {
        "connections_total": sum(by_status.values()),
        "connections_by_status": [(s, by_status.get(s, 0)) for s in Connection.Status.values],
        "runs_24h_total": sum(runs_24h.values()),
        "runs_24h": [(s, runs_24h.get(s, 0)) for s in SyncRun.Status.values],
        "incidents": incidents,
        "endpoints": endpoints,
    }


def runs_last_day(*, now: datetime) -> dict:
    """Runs by status: those that finished in the last 24 hours (rollups), and those queued or
    running now (the active runs, which the dispatcher keeps few)."""
    finished = RunHourlyTotal.objects.filter(hour__gte=day_start(now)).aggregate(
        succeeded=Sum("succeeded"), failed=Sum("failed"), cancelled=Sum("cancelled"))
    active = dict(SyncRun.objects.filter(status__in=SyncRun.ACTIVE_STATUSES).values_list("status")
                  .annotate(n=Count("id")).order_by())
    return {**active, **{status: n or 0 for status, n in finished.items()}}


def run_charts(*, now: datetime, rng: ChartRange) -> dict:
    """The overview's charts over the range: records read, records changed within them, runs
    failed, each per bucket."""
    buckets = run_totals(rng=rng, now=now)
    return {
        "range": rng,
        "read": series(buckets, lambda b: b["fetched"]),
        "changed": series(buckets, changed),
        "runs": series(buckets, lambda b: b["runs"]),
        "failed": series(buckets, lambda b: b["failed"]),
        "empty": not any(b["runs"] for b in buckets),
    }


def _with_connections(rows: list[dict]) -> list[dict]:
    connections = Connection.objects.select_related("customer").in_bulk([r["connection_id"] for r in rows])
    return [{**r, "connection": connections[r["connection_id"]]} for r in rows if r["connection_id"] in connections]


def _last_day_by_connection(*, now: datetime):
    # At most connections x entities x 24 rows, however many runs they summarize.
    return RunHourlyRollup.objects.filter(hour__gte=day_start(now)).values("connection_id").order_by()


def slowest_connections(*, now: datetime, limit: int = LEADERS) -> list[dict]:
    """Average duration of the runs that succeeded in the last 24 h, slowest first."""
    rows = list(_last_day_by_connection(now=now).annotate(runs=Sum("succeeded"), took=Sum("duration_sum_ms"))
                .filter(runs__gt=0).annotate(avg_ms=F("took") / F("runs")).order_by("-avg_ms")[:limit])
    for row in rows:
        row["avg_duration"] = timedelta(milliseconds=float(row["avg_ms"]))
    return _with_connections(rows)


def failing_connections(*, now: datetime, limit: int = LEADERS) -> list[dict]:
    """Connections with the most failed runs in the last 24 h."""
    rows = list(_last_day_by_connection(now=now).annotate(failed=Sum("failed")).filter(failed__gt=0)
                .order_by("-failed")[:limit])
    return _with_connections(rows)


def incidents_summary() -> dict:
    """Unresolved incidents: acknowledged ones still count as open (someone is on it, it is not
    fixed), and by cause, the most first: a connection-level cause is one incident per connection."""
    rows = list(Incident.objects.filter(status__in=Incident.UNRESOLVED).values("error_code")
                .annotate(open=Count("id"), acknowledged=Count("id", filter=Q(status=Incident.Status.ACKNOWLEDGED)),
                          connections=Count("connection", distinct=True))
                .order_by("-open", "error_code"))
    by_cause = [{**row, "title": spec_for(row["error_code"]).message} for row in rows]
    return {"open": sum(r["open"] for r in rows), "acknowledged": sum(r["acknowledged"] for r in rows),
            "by_cause": by_cause}


RUNNING_NOW = 8
RUNNING_FIELDS = ("id", "connection_id", "entity", "mode", "status", "started_at", "pages", "fetched",
                  "total_records", "not_before", "wait_reason", "connection__name", "connection__customer__name")


def runs_now(*, limit: int = RUNNING_NOW) -> dict:
    """What moves right now, for the overview's live region: how many runs are queued and running,
    and the running ones (longest running first) with their connection. One query when nothing
    runs, two otherwise; the region polls only while `active`."""
    counts = dict(SyncRun.objects.filter(status__in=SyncRun.ACTIVE_STATUSES).values_list("status")
                  .annotate(n=Count("id")).order_by())
    queued, running_total = counts.get(SyncRun.Status.QUEUED, 0), counts.get(SyncRun.Status.RUNNING, 0)
    running = []
    if running_total:
        running = list(SyncRun.objects.filter(status=SyncRun.Status.RUNNING).select_related("connection__customer")
                       .only(*RUNNING_FIELDS).order_by("started_at", "id")[:limit])
    return {"queued": queued, "running": running_total, "rows": running,
            "more": max(0, running_total - len(running)), "active": bool(queued or running_total)}
