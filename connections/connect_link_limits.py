"""The connect-link pages' rate limits (docs/connect-links.md, "Security"): test attempts per
link, wrong tokens per client address, each counted per calendar minute.

Counted where every web process sees the same number: in Redis (the Django cache) when
REDIS_URL is set, else in the database (`ConnectLinkWindow`, one upsert per attempt). The
default cache without Redis is per process, so it would let each gunicorn worker allow the limit.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection as db_connection

from connections.models import ConnectLinkWindow


def attempt_count(*, key: str, now: float | None = None) -> tuple[int, int]:
    """Counts one attempt under `key` and returns (attempts this minute, seconds until the next)."""
    now = time.time() if now is None else now
    minute = int(now // 60)
    key = _hashed(key)
    count = _count_redis(key, minute) if settings.REDIS_URL else _count_db(key, minute)
    return count, max(1, int((minute + 1) * 60 - now + 0.999))


def attempts_over(*, key: str, limit: int) -> int | None:
    """Counts one attempt; None while within `limit` a minute, else the Retry-After in seconds."""
    count, retry_after = attempt_count(key=key)
    return retry_after if count > limit else None


def _count_redis(key: str, minute: int) -> int:
    name = f"plantsync:connect-link:{key}:{minute}"
    cache.add(name, 0, timeout=180)
    return cache.incr(name)


def _count_db(key: str, minute: int) -> int:
    table = db_connection.ops.quote_name(ConnectLinkWindow._meta.db_table)
    column = db_connection.ops.quote_name("key")
    # One statement: the increment is atomic across processes whatever the isolation level.
    with db_connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({column}, minute, count) VALUES (%s, %s, 1) "
                       f"ON CONFLICT ({column}, minute) DO UPDATE SET count = {table}.count + 1 "
                       "RETURNING count", [key, minute])
        count = cursor.fetchone()[0]
    if count == 1:  # a new window: every finished one (any key) is done with; the table stays a few minutes long
        ConnectLinkWindow.objects.filter(minute__lt=minute - 2).delete()
    return count


def attempts_seen(*, key: str, now: float | None = None) -> int:
    """This minute's attempts under `key` so far, without counting one."""
    now = time.time() if now is None else now
    minute = int(now // 60)
    key = _hashed(key)
    if settings.REDIS_URL:
        return int(cache.get(f"plantsync:connect-link:{key}:{minute}") or 0)
    window = ConnectLinkWindow.objects.filter(key=key, minute=minute).only("count").first()
    return window.count if window else 0


def _hashed(key: str) -> str:
    # Addresses and link ids go in hashed: a fixed length, and no address stored in clear.
    return hashlib.sha256(key.encode()).hexdigest()[:40]
