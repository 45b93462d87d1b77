import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache
from django.db import connection as db

from core import api_ratelimit
from core.api_ratelimit import rate_limit_counter_increment
from core.models import RateLimitCounter
from tests.api.conftest import ApiClient, assert_error

pytestmark = pytest.mark.django_db

RATELIMIT = re.compile(r'^"default";r=(\d+);t=(\d+)$')
WINDOW_START = 1_900_000_000 - 1_900_000_000 % 60


@pytest.fixture
def frozen_clock(monkeypatch):
    """Requests in one test fall in one rate-limit window: 17 s into a minute, so 43 s are left."""
    now = {"t": WINDOW_START + 17.25}
    monkeypatch.setattr(api_ratelimit, "clock", lambda: now["t"])
    return now


@pytest.fixture
def in_database(settings):
    """The embedded default: no Redis, so the database counts."""
    settings.REDIS_URL = ""


@pytest.fixture
def in_cache(settings):
    """As with REDIS_URL set: Django's cache counts (Redis where it is configured, else local memory)."""
    settings.REDIS_URL = settings.REDIS_URL or "redis://configured"


def remaining(response) -> int:
    match = RATELIMIT.match(response["RateLimit"])
    assert match, response["RateLimit"]
    return int(match.group(1))


def test_it_reports_the_policy_and_what_is_left_on_every_authenticated_response(api, frozen_clock):
    first = api.get("/api/v1/connection")
    assert first["RateLimit-Policy"] == '"default";q=600;w=60'
    assert first["RateLimit"] == '"default";r=599;t=43'
    second = api.get("/api/v1/syncs/00000000-0000-4000-8000-000000000000")  # an error answer counts too
    assert second.status_code == 404 and remaining(second) == 598


def test_it_sends_no_rate_limit_headers_without_a_valid_token(anonymous):
    response = anonymous.get("/api/v1/connection")
    assert response.status_code == 401 and "RateLimit" not in response


def test_it_answers_429_with_retry_after_once_the_budget_is_spent(api, admin, settings, frozen_clock):
    settings.API_RATE_LIMIT = 3
    assert [remaining(api.get("/api/v1/connection")) for _ in range(3)] == [2, 1, 0]
    response = api.get("/api/v1/connection")
    error = assert_error(response, "RATE_LIMIT_EXCEEDED")
    assert response["Retry-After"] == "43" and error["details"]["limit"] == 3
    assert response["RateLimit"] == '"default";r=0;t=43'
    # Limits are per token: another token still has its own budget.
    assert admin.get("/api/v1/connectors").status_code == 200


def test_it_starts_a_fresh_budget_in_the_next_minute(api, settings, frozen_clock):
    settings.API_RATE_LIMIT = 2
    api.get("/api/v1/connection")
    api.get("/api/v1/connection")
    assert api.get("/api/v1/connection").status_code == 429
    frozen_clock["t"] += 60
    response = api.get("/api/v1/connection")
    assert response.status_code == 200 and remaining(response) == 1


def test_it_limits_a_rotated_token_separately(api, connection, settings, frozen_clock):
    from connections.services import connection_token_rotate
    from tests.syncs.factories import TEST_ACTOR

    settings.API_RATE_LIMIT = 1
    api.get("/api/v1/connection")
    assert api.get("/api/v1/connection").status_code == 429
    new = connection_token_rotate(connection=connection, actor=TEST_ACTOR)
    assert api.get("/api/v1/connection", token=new).status_code == 200


def test_it_can_be_turned_off(api, settings):
    settings.API_RATE_LIMIT = 0
    response = api.get("/api/v1/connection")
    assert response.status_code == 200 and "RateLimit" not in response


# --- with Redis: the cache counts ---------------------------------------------------------------

def test_it_counts_in_the_cache_when_redis_is_configured(api, in_cache, frozen_clock, connection):
    api.get("/api/v1/connection")
    api.get("/api/v1/connection")
    window = int(frozen_clock["t"] // 60)
    assert cache.get(f"api:ratelimit:{connection.token_hash[:32]}:{window}") == 2
    assert not RateLimitCounter.objects.exists()


def test_it_lets_requests_through_when_the_cache_is_down(api, in_cache, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to redis")

    monkeypatch.setattr(api_ratelimit.cache, "incr", down)
    monkeypatch.setattr(api_ratelimit.cache, "add", down)
    response = api.get("/api/v1/connection")
    assert response.status_code == 200 and "RateLimit" not in response
    assert "rate limiting skipped" in caplog.text


# --- without Redis: the database counts ---------------------------------------------------------

def test_it_counts_in_the_database_without_redis(api, in_database, frozen_clock, connection):
    api.get("/api/v1/connection")
    api.get("/api/v1/connection")
    counter = RateLimitCounter.objects.get()
    assert (counter.key, counter.window_start, counter.count) == (connection.token_hash[:32], WINDOW_START, 2)


def test_it_shows_every_process_one_counter_per_token(token, in_database, frozen_clock):
    """Each request as if from another web process: a new client, and no memory kept in between
    (the local cache cleared), yet `remaining` goes down by one each time."""
    seen = []
    for _ in range(5):
        cache.clear()
        seen.append(remaining(ApiClient(token).get("/api/v1/connection")))
    assert seen == [599, 598, 597, 596, 595]


def test_it_answers_429_from_the_database_counter_too(api, in_database, settings, frozen_clock):
    settings.API_RATE_LIMIT = 2
    api.get("/api/v1/connection")
    cache.clear()
    api.get("/api/v1/connection")
    cache.clear()
    assert_error(api.get("/api/v1/connection"), "RATE_LIMIT_EXCEEDED")
    assert RateLimitCounter.objects.get().count == 3


def test_it_prunes_the_windows_before_the_current_one_when_a_window_starts(api, in_database, frozen_clock,
                                                                           connection):
    old = [RateLimitCounter.objects.create(key=f"k{i}", window_start=WINDOW_START - 60 * i, count=9)
           for i in (1, 2, 30)]
    current = RateLimitCounter.objects.create(key="other token", window_start=WINDOW_START, count=4)
    api.get("/api/v1/connection")
    assert not RateLimitCounter.objects.filter(pk__in=[row.pk for row in old]).exists()
    assert set(RateLimitCounter.objects.values_list("key", "count")) == {
        ("other token", 4), (connection.token_hash[:32], 1)}
    assert current.pk in RateLimitCounter.objects.values_list("pk", flat=True)


def test_it_lets_requests_through_when_the_database_counter_fails(api, in_database, monkeypatch, caplog):
    monkeypatch.setattr(api_ratelimit, "_upsert_sql", lambda: "UPDATE no_such_table SET count = 1")
    response = api.get("/api/v1/connection")
    assert response.status_code == 200 and "RateLimit" not in response
    assert "rate limiting skipped" in caplog.text
    # The failed statement was rolled back on its own: the request's other queries went on.
    assert api.get("/api/v1/connection").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_it_gives_concurrent_requests_one_number_each():
    """Four threads, each its own database connection as a web process has, count one token at
    once: every count from 1 to 40 is handed out exactly once."""

    def count_ten() -> list[int]:
        try:
            return [rate_limit_counter_increment(key="shared", window_start=WINDOW_START) for _ in range(10)]
        finally:
            db.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = [n for batch in pool.map(lambda _: count_ten(), range(4)) for n in batch]
    assert sorted(counts) == list(range(1, 41))
    assert RateLimitCounter.objects.get(key="shared").count == 40
