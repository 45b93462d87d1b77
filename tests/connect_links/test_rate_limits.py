"""The page's limits (connections/connect_link_limits.py): 10 tests a minute per link, 20 refused
tokens a minute per client address; over them, 429 with Retry-After."""

from datetime import timedelta

import pytest
import time_machine

from connections.connect_link_limits import attempt_count, attempts_seen
from core.models import RateLimitCounter
from tests.connect_links.factories import make_link, page_path, sandbox_fields

pytestmark = pytest.mark.django_db


def test_it_allows_ten_tests_a_minute_per_link(client, fixed_now):
    _, token = make_link()
    _, other = make_link(customer="Other", external_id="other-1")
    with time_machine.travel(fixed_now.replace(second=0) + timedelta(minutes=1), tick=False):
        codes = [client.post(page_path(token, "test"), sandbox_fields(), headers={"HX-Request": "true"}).status_code
                 for _ in range(11)]
        assert codes == [200] * 10 + [429]
        refused = client.post(page_path(token, "test"), sandbox_fields())
        assert refused.status_code == 429 and refused["Retry-After"] == "60"
        assert "Too many attempts" in refused.content.decode()
        # Per link: another link tests on.
        assert client.post(page_path(other, "test"), sandbox_fields()).status_code == 200
    with time_machine.travel(fixed_now.replace(second=30) + timedelta(minutes=2), tick=False):
        assert client.post(page_path(token, "test"), sandbox_fields()).status_code == 200


def test_it_allows_twenty_refused_tokens_a_minute_per_address(client, fixed_now):
    _, token = make_link()
    with time_machine.travel(fixed_now.replace(second=15) + timedelta(minutes=1), tick=False):
        codes = [client.get(page_path(f"clk_wrong{i}")).status_code for i in range(21)]
        assert codes == [404] * 20 + [429]
        # Over the limit, even a good token is not looked at from this address...
        refused = client.get(page_path(token))
        assert refused.status_code == 429 and refused["Retry-After"] == "45"
        # ...while another address is not held back.
        assert client.get(page_path(token), REMOTE_ADDR="10.1.2.3").status_code == 200
    with time_machine.travel(fixed_now.replace(second=0) + timedelta(minutes=2), tick=False):
        assert client.get(page_path(token)).status_code == 200


def test_it_counts_in_the_database_without_redis_and_keeps_only_recent_minutes(settings):
    settings.REDIS_URL = ""
    start = 1_800_000_000.0  # a minute boundary
    assert [attempt_count(key="address:10.0.0.1", now=start + s)[0] for s in (0, 10, 20)] == [1, 2, 3]
    assert attempt_count(key="address:10.0.0.2", now=start + 30) == (1, 30)
    assert attempts_seen(key="address:10.0.0.1", now=start + 59) == 3
    # Three minutes on, the first attempt of a new window clears every finished window.
    assert attempt_count(key="test:some-link", now=start + 180)[0] == 1
    assert list(RateLimitCounter.objects.values_list("window_start", flat=True)) == [int(start) + 180]
    assert attempts_seen(key="address:10.0.0.1", now=start + 181) == 0
