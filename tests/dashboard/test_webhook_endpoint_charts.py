"""An endpoint page's charts: delivery success over time and the latency p50/p95, per range."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from dashboard.selectors import webhooks as selectors
from tests.dashboard.factories import HTMX
from tests.webhooks.factories import DeliveryFactory, EndpointFactory
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)


def delivered(endpoint, *, ago: timedelta, latencies, status=Delivery.Status.SUCCEEDED):
    with time_machine.travel(NOW - ago, tick=False):
        for latency in latencies:
            DeliveryFactory(endpoint=endpoint, status=status, last_latency_ms=latency)


def charted(client, endpoint, query: str = "", **headers):
    with time_machine.travel(NOW, tick=False):
        return client.get(f"/webhooks/{endpoint.pk}/{query}", **headers)


@pytest.fixture
def endpoint():
    endpoint = EndpointFactory()
    delivered(endpoint, ago=timedelta(hours=1), latencies=range(10, 101, 10))  # 10 ... 100 ms
    delivered(endpoint, ago=timedelta(hours=1), latencies=[900], status=Delivery.Status.FAILED)
    delivered(endpoint, ago=timedelta(days=5), latencies=[40, 60])
    return endpoint


def test_it_charts_deliveries_failures_and_latency_percentiles_per_hour(viewer_client, endpoint):
    charts = charted(viewer_client, endpoint).context["charts"]
    hour = datetime(2026, 6, 15, 9, tzinfo=UTC)
    assert len(charts["deliveries"]) == 24
    assert dict(charts["deliveries"])[hour] == 11 and dict(charts["failed"])[hour] == 1
    # Nearest rank of the 11 latencies 10, 20 ... 100, 900: p50 the 6th, p95 the 11th.
    assert (dict(charts["p50"])[hour], dict(charts["p95"])[hour]) == (60, 900)
    assert sum(v for _, v in charts["deliveries"]) == 11 and not charts["capped"]


@pytest.mark.parametrize(("key", "bars", "total"), [("24h", 24, 11), ("7d", 28, 13), ("30d", 30, 13)])
def test_it_charts_each_range(viewer_client, endpoint, key, bars, total):
    response = charted(viewer_client, endpoint, f"?range={key}")
    charts = response.context["charts"]
    assert len(charts["p95"]) == bars and sum(v for _, v in charts["deliveries"]) == total
    body = response.content.decode()
    assert "Latency p95" in body and "Deliveries" in body and body.count("<svg") == 2
    assert f'href="?range={key}" hx-get="?range={key}" hx-target="#charts"' in body


def test_it_answers_a_range_link_with_the_charts_region_only(viewer_client, endpoint):
    response = charted(viewer_client, endpoint, "?range=30d", HTTP_HX_TARGET="charts", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="charts"')
    assert "<html" not in body and 'id="deliveries"' not in body and "per day, last 30 days" in body


def test_it_labels_the_bars_with_both_percentiles(viewer_client, endpoint):
    body = charted(viewer_client, endpoint).content.decode()
    assert "<title>Mon 15 Jun 09:00–10:00 UTC: 900 ms, 60 p50</title>" in body
    assert "<title>Mon 15 Jun 09:00–10:00 UTC: 11 deliveries, 1 failed</title>" in body


def test_it_says_when_it_drew_from_the_newest_deliveries_only(viewer_client, endpoint, monkeypatch):
    monkeypatch.setattr(selectors, "CHART_DELIVERIES", 5)
    response = charted(viewer_client, endpoint, "?range=7d")
    assert response.context["charts"]["capped"]
    assert "Drawn from the newest 5 deliveries of the range only" in response.content.decode()


def test_it_shows_empty_charts_for_an_endpoint_with_no_delivery(viewer_client):
    body = charted(viewer_client, EndpointFactory()).content.decode()
    assert body.count("Nothing in the last 24 h.") == 2


def test_it_takes_the_nearest_rank_percentile():
    assert selectors.percentile([], 0.95) == 0
    assert selectors.percentile([7], 0.5) == 7
    assert selectors.percentile(list(range(1, 101)), 0.95) == 95
    assert selectors.percentile(list(range(1, 101)), 0.5) == 50
