import re

import pytest

from core import api_auth
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

RATELIMIT = re.compile(r'^"default";r=(\d+);t=(\d+)$')


@pytest.fixture
def frozen_clock(monkeypatch):
    """Requests in one test fall in one rate-limit window: 17 s into a minute, so 43 s are left."""
    now = {"t": 1_900_000_000 - 1_900_000_000 % 60 + 17.25}
    monkeypatch.setattr(api_auth, "clock", lambda: now["t"])
    return now


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


def test_it_lets_requests_through_when_the_cache_is_down(api, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to redis")

    monkeypatch.setattr(api_auth.cache, "incr", down)
    monkeypatch.setattr(api_auth.cache, "add", down)
    response = api.get("/api/v1/connection")
    assert response.status_code == 200 and "RateLimit" not in response
    assert "rate limiting skipped" in caplog.text


def test_it_counts_in_the_configured_cache(api, frozen_clock, connection):
    from django.core.cache import cache

    api.get("/api/v1/connection")
    api.get("/api/v1/connection")
    window = int(frozen_clock["t"] // 60)
    assert cache.get(f"api:ratelimit:{connection.token_hash[:32]}:{window}") == 2
