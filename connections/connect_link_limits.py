"""The connect-link pages' rate limits (docs/connect-links.md, "Security"): test attempts per
link, wrong tokens per client address, each counted per calendar minute.

Counted where every web process sees the same number: in Redis (the Django cache) when
REDIS_URL is set, else in the database: the same counter as the API's per-token limit
(core/api_ratelimit.py). The default cache without Redis is per process, so it would let each
gunicorn worker allow the limit.
"""

import hashlib
import time

from core.api_ratelimit import WINDOW_SECONDS, window_count, window_peek


def _window(now: float | None) -> tuple[float, int]:
    now = time.time() if now is None else now
    return now, int(now // WINDOW_SECONDS) * WINDOW_SECONDS


def attempt_count(*, key: str, now: float | None = None) -> tuple[int, int]:
    """Counts one attempt under `key` and returns (attempts this minute, seconds until the next)."""
    now, window_start = _window(now)
    count = window_count(key=_hashed(key), window_start=window_start)
    return count, max(1, int(window_start + WINDOW_SECONDS - now + 0.999))


def attempts_over(*, key: str, limit: int) -> int | None:
    """Counts one attempt; None while within `limit` a minute, else the Retry-After in seconds."""
    count, retry_after = attempt_count(key=key)
    return retry_after if count > limit else None


def attempts_seen(*, key: str, now: float | None = None) -> int:
    """This minute's attempts under `key` so far, without counting one."""
    return window_peek(key=_hashed(key), window_start=_window(now)[1])


def _hashed(key: str) -> str:
    # Addresses and link ids go in hashed: a fixed length, and no address stored in clear. The
    # prefix keeps them apart from the API's token counters in the same table.
    return "link:" + hashlib.sha256(key.encode()).hexdigest()[:40]
