"""The overview: counts, hourly series for the charts, the slowest and the most-failing connections."""

from datetime import datetime, timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncHour

from connections.models import Connection
from core.errors import spec_for
from syncs.models import Incident, SyncRun
from webhooks.models import Endpoint

CHART_HOURS = 48
LEADERS = 5


def overview_summary(*, now: datetime) -> dict:
    day_ago = now - timedelta(hours=24)
    by_status = dict(Connection.objects.values_list("status").annotate(n=Count("id")).order_by())
    runs_24h = dict(SyncRun.objects.filter(queued_at__gte=day_ago).values_list("status")
                    .annotate(n=Count("id")).order_by())
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


def hourly_series(*, now: datetime, hours: int = CHART_HOURS) -> dict:
    """Records synced (fetched) and runs failed per hour, by the hour each run finished."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    rows = (SyncRun.objects.filter(finished_at__gte=start).annotate(hour=TruncHour("finished_at"))
            .values("hour").annotate(records=Sum("fetched"), failed=Count("id", filter=Q(status=SyncRun.Status.FAILED)))
            .order_by())
    by_hour = {row["hour"]: row for row in rows}
    hours_list = [start + timedelta(hours=i) for i in range(hours)]
    return {
        "records": [(h, (by_hour.get(h) or {}).get("records") or 0) for h in hours_list],
        "failed": [(h, (by_hour.get(h) or {}).get("failed") or 0) for h in hours_list],
    }


def _with_connections(rows: list[dict]) -> list[dict]:
    connections = Connection.objects.select_related("customer").in_bulk([r["connection_id"] for r in rows])
    return [{**r, "connection": connections[r["connection_id"]]} for r in rows if r["connection_id"] in connections]


def slowest_connections(*, now: datetime, limit: int = LEADERS) -> list[dict]:
    """Average duration of the runs that succeeded in the last 24 h, slowest first."""
    took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    rows = list(SyncRun.objects.filter(queued_at__gte=now - timedelta(hours=24), status=SyncRun.Status.SUCCEEDED,
                                       started_at__isnull=False, finished_at__isnull=False)
                .values("connection_id").annotate(avg_duration=Avg(took), runs=Count("id"))
                .order_by("-avg_duration")[:limit])
    return _with_connections(rows)


def failing_connections(*, now: datetime, limit: int = LEADERS) -> list[dict]:
    """Connections with the most failed runs in the last 24 h."""
    rows = list(SyncRun.objects.filter(queued_at__gte=now - timedelta(hours=24), status=SyncRun.Status.FAILED)
                .values("connection_id").annotate(failed=Count("id")).order_by("-failed")[:limit])
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
