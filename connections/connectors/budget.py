"""The per-connection request budget (docs/architecture.md, "The upstream toolkit").

All runs of one connection share `requests_per_minute`, so six entity runs at once do not send
six times the load to a customer's ERP. Requests are counted per connection and calendar minute:
in Redis (the Django cache) when REDIS_URL is set, else in the database
(`UpstreamRequestWindow`, one upsert per request). `take()` sleeps until the next minute when
this one is spent, up to SYNC_MAX_SLEEP_SECONDS; a longer wait raises UPSTREAM_RATE_LIMITED with
retry_after, which the engine turns into a requeue. Without a connection id (a check of settings
not saved yet) the budget counts in this process only.

`observe()` reads the upstream's own rate-limit headers and spaces the next requests so that
the remaining quota lasts until its reset, rather than running into a 429.
"""

import logging
import math
import threading
import time

import httpx
from django.conf import settings
from django.db import connection as db_connection

from connections.connectors.base import UpstreamError

logger = logging.getLogger(__name__)

_local_counts: dict[tuple, int] = {}
_local_lock = threading.Lock()


class RequestBudget:
    def __init__(self, *, connection_id, requests_per_minute: int):
        self.connection_id = connection_id
        self.requests_per_minute = int(requests_per_minute)
        self._not_before = 0.0  # from the upstream's rate-limit headers

    def take(self) -> None:
        max_sleep = float(settings.SYNC_MAX_SLEEP_SECONDS)
        waited = 0.0
        while True:
            now = time.time()
            if self._not_before > now:
                wait = self._not_before - now
            else:
                minute = int(now // 60)
                if self._count(minute) <= self.requests_per_minute:
                    return
                wait = (minute + 1) * 60 - now + 0.05
            if waited + wait > max_sleep:
                raise UpstreamError("UPSTREAM_RATE_LIMITED",
                                    f"This connection's request budget ({self.requests_per_minute} a minute) is "
                                    "spent; the run goes on when it refills.",
                                    details={"requests_per_minute": self.requests_per_minute},
                                    retry_after=math.ceil(wait))
            logger.info("request budget: waiting %.1f s", wait)
            time.sleep(wait)
            waited += wait

    def observe(self, response: httpx.Response) -> None:
        remaining, reset = rate_limit_headers(response.headers)
        if remaining is None or reset is None:
            return
        # Spread what is left over the time until the reset; none left: wait for the reset.
        pause = reset if remaining <= 0 else reset / (remaining + 1)
        if pause > 0.01:
            self._not_before = max(self._not_before, time.time() + pause)

    def _count(self, minute: int) -> int:
        """Counts one request in the minute's window and returns the window's count."""
        if self.connection_id is None:
            key = (id(self), minute)
            with _local_lock:
                if key not in _local_counts:  # a new window: drop the finished ones
                    for old in [k for k in _local_counts if k[1] < minute]:
                        del _local_counts[old]
                _local_counts[key] = _local_counts.get(key, 0) + 1
                return _local_counts[key]
        if settings.REDIS_URL:
            return _count_redis(str(self.connection_id), minute)
        return _count_db(self.connection_id, minute)


def _count_redis(connection_id: str, minute: int) -> int:
    from django.core.cache import cache

    key = f"plantsync:upstream-budget:{connection_id}:{minute}"
    cache.add(key, 0, timeout=180)
    return cache.incr(key)


def _count_db(connection_id, minute: int) -> int:
    from connections.models import UpstreamRequestWindow

    table = db_connection.ops.quote_name(UpstreamRequestWindow._meta.db_table)
    value = UpstreamRequestWindow._meta.get_field("connection_id").get_db_prep_value(
        connection_id, connection=db_connection)
    # One statement: the increment is atomic across processes whatever the isolation level.
    with db_connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (connection_id, minute, count) VALUES (%s, %s, 1) "
                       "ON CONFLICT (connection_id, minute) DO UPDATE SET count = " + table + ".count + 1 "
                       "RETURNING count", [value, minute])
        count = cursor.fetchone()[0]
    if count == 1:  # a new window: the connection's old ones are done with
        UpstreamRequestWindow.objects.filter(connection_id=connection_id, minute__lt=minute - 2).delete()
    return count


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def _seconds_until(reset: float | None) -> float | None:
    """Reset headers give seconds from now, or (GitHub, many others) a Unix time."""
    if reset is None:
        return None
    return max(reset - time.time(), 0.0) if reset > 1_000_000_000 else max(reset, 0.0)


def rate_limit_headers(headers: httpx.Headers) -> tuple[float | None, float | None]:
    """(remaining, seconds until reset) from X-RateLimit-*, X-Rate-Limit-*, RateLimit-* or the
    structured `RateLimit` of the IETF drafts (`limit=100, remaining=50, reset=5` or `"default";r=50;t=30`)."""
    for prefix in ("X-RateLimit-", "X-Rate-Limit-", "RateLimit-"):
        remaining = _number(headers.get(f"{prefix}Remaining"))
        if remaining is not None:
            return remaining, _seconds_until(_number(headers.get(f"{prefix}Reset")))
    combined = headers.get("RateLimit")
    if combined:
        parts = {}
        for item in combined.replace(";", ",").split(","):
            name, _, value = item.strip().partition("=")
            parts[name.strip().lower()] = _number(value.strip().strip('"'))
        # Older drafts name them remaining/reset; draft-ietf-httpapi-ratelimit-headers-08 r/t.
        remaining = parts.get("remaining", parts.get("r"))
        if remaining is not None:
            return remaining, _seconds_until(parts.get("reset", parts.get("t")))
    return None, None
