"""Chart ranges and buckets shared by the overview, a connection's and an endpoint's charts
(docs/architecture.md, "Charts and rollups"): 24 h in hours, 7 d in 6-hour buckets, 30 d in days,
each ending with the bucket that holds now, and the buckets' sums from per-hour rows."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from syncs.models import RunHourlyRollup, RunHourlyTotal

FIGURES = ("runs", "succeeded", "failed", "cancelled", "fetched", "created", "updated", "deleted", "duration_sum_ms")


@dataclass(frozen=True)
class ChartRange:
    key: str
    span: str  # "24 h": what the captions say the chart covers
    bucket: timedelta
    buckets: int
    per: str  # "hour": what one bar is, in "per hour"
    tick_format: str

    def end(self, now: datetime) -> datetime:
        """The end of the bucket that holds `now`: buckets align on UTC hours, 6-hour marks or midnights."""
        now = now.astimezone(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        passed = (now - midnight) // self.bucket
        return midnight + (passed + 1) * self.bucket

    def starts(self, now: datetime) -> list[datetime]:
        end = self.end(now)
        return [end - (self.buckets - i) * self.bucket for i in range(self.buckets)]

    def tick(self, start: datetime) -> str | None:
        """The axis label under a bucket, or None: every 6 hours, every day, or every Monday."""
        if self.bucket == timedelta(hours=1):
            return start.strftime(self.tick_format) if start.hour % 6 == 0 else None
        if self.bucket < timedelta(days=1):
            return start.strftime(self.tick_format) if start.hour == 0 else None
        return start.strftime(self.tick_format) if start.weekday() == 0 else None

    def title(self, start: datetime) -> str:
        """One bar's period, for its tooltip."""
        if self.bucket >= timedelta(days=1):
            return start.strftime("%a %d %b %Y") + " (UTC)"
        return f"{start:%a %d %b %H:%M}–{start + self.bucket:%H:%M} UTC"


RANGES = {
    "24h": ChartRange("24h", "24 h", timedelta(hours=1), 24, "hour", "%d %b %H:%M"),
    "7d": ChartRange("7d", "7 days", timedelta(hours=6), 28, "6 hours", "%a %d %b"),
    "30d": ChartRange("30d", "30 days", timedelta(days=1), 30, "day", "%a %d %b"),
}
DEFAULT_RANGE = "24h"


def chart_range(value: str | None) -> ChartRange:
    """The range a ?range= asks for; anything else is the default."""
    return RANGES.get(value or "", RANGES[DEFAULT_RANGE])


def bucketed(rows: Iterable[tuple[datetime, dict]], *, rng: ChartRange, now: datetime) -> list[dict]:
    """Per-hour figures summed into the range's buckets, oldest first, every bucket present."""
    starts = rng.starts(now)
    buckets = [{"start": s, **dict.fromkeys(FIGURES, 0)} for s in starts]
    first = starts[0]
    for hour, figures in rows:
        i = int((hour - first) // rng.bucket)
        if 0 <= i < len(buckets):
            for name in FIGURES:
                buckets[i][name] += figures.get(name) or 0
    return buckets


def series(buckets: list[dict], value) -> list[tuple[datetime, float]]:
    """[(bucket start, value(bucket))] for bar_chart."""
    return [(b["start"], value(b)) for b in buckets]


def changed(bucket: dict) -> int:
    """Records created, updated or deleted: what a sync changed, as against what it read."""
    return bucket["created"] + bucket["updated"] + bucket["deleted"]


def average_seconds(bucket: dict) -> float:
    """The average duration of the runs that succeeded in the bucket, in seconds (0: none did)."""
    return round(bucket["duration_sum_ms"] / bucket["succeeded"] / 1000, 1) if bucket["succeeded"] else 0


def run_totals(*, rng: ChartRange, now: datetime) -> list[dict]:
    """Every connection's runs in the range's buckets: at most 720 per-hour rows, whatever the runs."""
    starts = rng.starts(now)
    rows = RunHourlyTotal.objects.filter(hour__gte=starts[0], hour__lt=starts[-1] + rng.bucket).values("hour", *FIGURES)
    return bucketed(((row["hour"], row) for row in rows), rng=rng, now=now)


def connection_run_charts(*, connection, rng: ChartRange, now: datetime) -> list[dict]:
    """One connection's runs in the range's buckets, per entity: its configured entities first,
    then any other that ran in the range. One query on the rollups' unique index."""
    starts = rng.starts(now)
    rows = (RunHourlyRollup.objects.filter(connection=connection, hour__gte=starts[0],
                                           hour__lt=starts[-1] + rng.bucket)
            .values("entity", "hour", *FIGURES))
    by_entity: dict[str, list] = {entity: [] for entity in connection.entities or []}
    for row in rows:
        by_entity.setdefault(row["entity"], []).append((row["hour"], row))
    charts = []
    for entity, hours in by_entity.items():
        buckets = bucketed(hours, rng=rng, now=now)
        charts.append({"entity": entity, "runs": sum(b["runs"] for b in buckets),
                       "duration": series(buckets, average_seconds), "read": series(buckets, lambda b: b["fetched"]),
                       "changed": series(buckets, changed)})
    return charts
