"""The per-connection request budget (connections/connectors/budget.py)."""

import uuid
from datetime import UTC, datetime

import httpx
import pytest
import time_machine

from connections.connectors import budget as budget_module
from connections.connectors.base import UpstreamError
from connections.connectors.budget import RequestBudget, rate_limit_headers
from connections.connectors.http import UpstreamClient
from connections.models import UpstreamRequestWindow
from tests.upstreams.server import Reply, ScriptedServer

MID_MINUTE = datetime(2026, 6, 15, 10, 30, 5, tzinfo=UTC)


@pytest.fixture
def upstream():
    with ScriptedServer() as server:
        server.route("GET", "/x", Reply(200, {}))
        yield server


@pytest.fixture
def frozen():
    with time_machine.travel(MID_MINUTE, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sleeps(frozen, monkeypatch):
    """time.sleep in the budget moves the frozen clock instead of waiting."""
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        frozen.shift(seconds)
    monkeypatch.setattr(budget_module.time, "sleep", sleep)
    return slept


@pytest.fixture(params=["database", "redis"])
def store(request, settings):
    if request.param == "redis":
        if not settings.REDIS_URL:
            pytest.skip("the Redis budget needs REDIS_URL (CI sets it)")
    else:
        settings.REDIS_URL = ""
        request.getfixturevalue("db")
    return request.param


def test_it_shares_the_budget_between_two_clients_of_a_connection(store, upstream, frozen, settings):
    settings.SYNC_MAX_SLEEP_SECONDS = 0
    connection_id = uuid.uuid4()
    first = UpstreamClient(base_url=upstream.url, connection_id=connection_id, requests_per_minute=3)
    second = UpstreamClient(base_url=upstream.url, connection_id=connection_id, requests_per_minute=3)
    first.json("GET", "/x")
    second.json("GET", "/x")
    first.json("GET", "/x")
    with pytest.raises(UpstreamError) as info:
        second.json("GET", "/x")
    assert info.value.code == "UPSTREAM_RATE_LIMITED" and 55 <= info.value.retry_after <= 56
    assert upstream.count("GET", "/x") == 3
    other = UpstreamClient(base_url=upstream.url, connection_id=uuid.uuid4(), requests_per_minute=3)
    other.json("GET", "/x")  # another connection has its own budget


def test_it_sleeps_until_the_next_minute_when_that_is_short_enough(store, sleeps, settings):
    settings.SYNC_MAX_SLEEP_SECONDS = 60
    budget = RequestBudget(connection_id=uuid.uuid4(), requests_per_minute=2)
    for _ in range(3):
        budget.take()
    assert len(sleeps) == 1 and 54.9 < sleeps[0] < 55.1


def test_it_counts_in_the_database_without_redis(settings, db, frozen):
    settings.REDIS_URL = ""
    connection_id = uuid.uuid4()
    UpstreamRequestWindow.objects.create(connection_id=connection_id, minute=int(MID_MINUTE.timestamp() // 60) - 10)
    budget = RequestBudget(connection_id=connection_id, requests_per_minute=10)
    budget.take()
    budget.take()
    window = UpstreamRequestWindow.objects.get(connection_id=connection_id)
    assert (window.minute, window.count) == (int(MID_MINUTE.timestamp() // 60), 2)  # the old window is gone


def test_it_counts_in_this_process_without_a_connection(settings, frozen):
    settings.SYNC_MAX_SLEEP_SECONDS = 0
    budget = RequestBudget(connection_id=None, requests_per_minute=1)
    budget.take()
    with pytest.raises(UpstreamError):
        budget.take()


@pytest.mark.parametrize("headers, expected", [
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}, (0, 30)),
    ({"X-Rate-Limit-Remaining": "5", "X-Rate-Limit-Reset": str(int(MID_MINUTE.timestamp()) + 12)}, (5, 12)),
    ({"RateLimit-Remaining": "9", "RateLimit-Reset": "20"}, (9, 20)),
    ({"RateLimit": "limit=100, remaining=4, reset=10"}, (4, 10)),
    ({"RateLimit": '"default";r=50;t=30'}, (50, 30)),
    ({}, (None, None)),
])
def test_it_reads_rate_limit_headers(frozen, headers, expected):
    assert rate_limit_headers(httpx.Headers(headers)) == expected


def test_it_slows_down_before_a_429(sleeps, settings):
    settings.SYNC_MAX_SLEEP_SECONDS = 60
    budget = RequestBudget(connection_id=None, requests_per_minute=1000)
    budget.observe(httpx.Response(200, headers={"RateLimit": "limit=100, remaining=4, reset=10"}))
    budget.take()
    assert sleeps == [pytest.approx(2.0)]  # 10 s spread over the 4 requests left (and one spare)
    budget.observe(httpx.Response(200, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}))
    budget.take()
    assert sleeps[1] == pytest.approx(30.0)


def test_it_hands_a_long_upstream_wait_to_the_engine(frozen, settings):
    settings.SYNC_MAX_SLEEP_SECONDS = 5
    budget = RequestBudget(connection_id=None, requests_per_minute=1000)
    budget.observe(httpx.Response(200, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "300"}))
    with pytest.raises(UpstreamError) as info:
        budget.take()
    assert info.value.code == "UPSTREAM_RATE_LIMITED" and info.value.retry_after == 300
