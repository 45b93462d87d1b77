"""API v1 rate limiting per token (docs/api.md#rate-limits): API_RATE_LIMIT requests a minute.

Fixed one-minute windows, counted where every web process sees the same number: in Redis
(Django's cache) when REDIS_URL is set, else in the database (RateLimitCounter). Local memory
would be one counter per gunicorn worker, so a client would see `remaining` jump around.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest
from redis.exceptions import RedisError

from core.errors import CatalogError
from core.models import RateLimitCounter

log = logging.getLogger("core.api")

WINDOW_SECONDS = 60
PRUNE_BATCH = 1000
# What a store that is down raises: the database, Redis, or the socket under either.
STORE_ERRORS = (DatabaseError, RedisError, OSError)


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {"RateLimit-Policy": f'"default";q={self.limit};w={WINDOW_SECONDS}',
                "RateLimit": f'"default";r={self.remaining};t={self.reset}'}


def clock() -> float:
    """Wall-clock seconds; tests replace it to stay inside one window."""
    return time.time()


def _count_in_cache(*, key: str, window_start: int) -> int:
    cache_key = f"api:ratelimit:{key}:{window_start // WINDOW_SECONDS}"
    try:
        return cache.incr(cache_key)
    except ValueError:  # first request of this window (or the key just expired)
        return 1 if cache.add(cache_key, 1, timeout=WINDOW_SECONDS + 5) else cache.incr(cache_key)


def _upsert_sql() -> str:
    # One statement both SQLite (3.35+) and PostgreSQL run atomically: two processes counting
    # the same token at once each get their own number, never the same one twice.
    q = connection.ops.quote_name
    table = q(RateLimitCounter._meta.db_table)
    return (f"INSERT INTO {table} ({q('key')}, {q('window_start')}, {q('count')}) VALUES (%s, %s, 1) "
            f"ON CONFLICT ({q('key')}, {q('window_start')}) DO UPDATE SET {q('count')} = {table}.{q('count')} + 1 "
            f"RETURNING {q('count')}")


def rate_limit_counter_increment(*, key: str, window_start: int) -> int:
    """Adds one request to `key`'s window starting at `window_start` (epoch seconds) and returns
    the window's count. The first request of a window prunes the windows before it."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_upsert_sql(), [key, window_start])
        count = cursor.fetchone()[0]
    if count == 1:
        rate_limit_counters_prune(before=window_start)
    return count


def rate_limit_counters_prune(*, before: int) -> int:
    """Deletes windows that started before `before`, every token's. Rows another request holds
    are skipped (SKIP LOCKED on PostgreSQL), so two prunes never wait on each other."""
    with transaction.atomic():
        stale = RateLimitCounter.objects.filter(window_start__lt=before).order_by("pk")
        ids = list(stale.select_for_update(skip_locked=True).values_list("pk", flat=True)[:PRUNE_BATCH])
        return RateLimitCounter.objects.filter(pk__in=ids).delete()[0] if ids else 0


def window_count(*, key: str, window_start: int) -> int:
    """Counts one more under `key` in the one-minute window starting at `window_start` and
    returns the window's count, wherever every web process sees the same number. The API's
    per-token limit and the connect-link pages' limits both count here."""
    if getattr(settings, "REDIS_URL", ""):
        return _count_in_cache(key=key, window_start=window_start)
    return rate_limit_counter_increment(key=key, window_start=window_start)


def window_peek(*, key: str, window_start: int) -> int:
    """The window's count so far, without counting one."""
    if getattr(settings, "REDIS_URL", ""):
        return int(cache.get(f"api:ratelimit:{key}:{window_start // WINDOW_SECONDS}") or 0)
    row = RateLimitCounter.objects.filter(key=key, window_start=window_start).only("count").first()
    return row.count if row else 0


def rate_limit_consume(request: HttpRequest, *, key_hash: str) -> None:
    """Counts this request against the token whose hash is `key_hash`; raises
    RATE_LIMIT_EXCEEDED once the minute's budget is spent.

    Fails open: when the counter's store (Redis, or the database) fails, the request goes
    through unlimited (and is logged), so reads from the database do not depend on Redis.
    """
    limit = int(getattr(settings, "API_RATE_LIMIT", 600))
    if limit <= 0:
        return
    now = clock()
    window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    reset = max(1, WINDOW_SECONDS - int(now % WINDOW_SECONDS))
    try:
        count = window_count(key=key_hash[:32], window_start=window_start)
    except STORE_ERRORS as exc:
        log.warning("API rate limiting skipped: the counter failed (%s: %s)", type(exc).__name__, exc)
        return
    request.api_rate_limit = RateLimitState(limit=limit, remaining=max(0, limit - count), reset=reset)
    if count > limit:
        raise CatalogError("RATE_LIMIT_EXCEEDED", f"More than {limit} requests in a minute with this token.",
                           details={"limit": limit, "window_seconds": WINDOW_SECONDS, "reset_seconds": reset},
                           retry_after=reset)
