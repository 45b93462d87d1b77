"""The connection page's charts: run duration and volume over time, per entity, per range."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from syncs.models import SyncRun
from tests.dashboard.factories import HTMX, connections, runs

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)


def charted(client, connection, query: str = "", **headers):
    with time_machine.travel(NOW, tick=False):
        return client.get(f"/connections/{connection.pk}/{query}", **headers)


@pytest.fixture
def busy():
    connection = connections(1)[0]
    connection.entities = ["vendors", "assets"]
    connection.save(update_fields=["entities"])
    with time_machine.travel(NOW, tick=False):
        runs(connection, 2, entity="vendors", ago=timedelta(hours=2))  # 5 s and 6 s, 10 and 11 records
        runs(connection, 1, entity="vendors", status=SyncRun.Status.FAILED, error_code="UPSTREAM_UNREACHABLE",
             ago=timedelta(hours=2))
        runs(connection, 3, entity="assets", ago=timedelta(days=4))
    return connection


def test_it_charts_duration_and_records_per_entity_over_24_hours(viewer_client, busy):
    response = charted(viewer_client, busy)
    vendors, assets = response.context["charts"]["entities"]
    assert (vendors["entity"], vendors["runs"], assets["entity"], assets["runs"]) == ("vendors", 3, "assets", 0)
    assert len(vendors["read"]) == 24 and sum(v for _, v in vendors["read"]) == 10 + 11 + 10
    # The failed run counts as a run and its records, not in the average duration of successful ones.
    assert [v for _, v in vendors["duration"] if v] == [5.5]
    body = response.content.decode()
    assert "Average successful run" in body and "Records read" in body and "No run of assets finished" in body
    assert "Fri 12 Jun" not in body and "15 Jun 06:00" in body


@pytest.mark.parametrize(("key", "bars", "assets_runs"), [("7d", 28, 3), ("30d", 30, 3), ("24h", 24, 0)])
def test_it_charts_each_range(viewer_client, busy, key, bars, assets_runs):
    response = charted(viewer_client, busy, f"?range={key}")
    vendors, assets = response.context["charts"]["entities"]
    assert len(vendors["duration"]) == bars and assets["runs"] == assets_runs
    assert f'href="?range={key}" hx-get="?range={key}" hx-target="#charts"' in response.content.decode()


def test_it_answers_a_range_link_with_the_charts_region_only(viewer_client, busy):
    response = charted(viewer_client, busy, "?range=7d", HTTP_HX_TARGET="charts", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="charts"')
    assert "<html" not in body and "Webhook endpoints" not in body and body.count("<svg") == 4


def test_it_answers_htmx_elsewhere_with_the_whole_connection_region(viewer_client, busy):
    body = charted(viewer_client, busy, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="connection">') and 'id="charts"' in body


def test_it_labels_every_bar_with_its_period_and_figures(viewer_client, busy):
    body = charted(viewer_client, busy).content.decode()
    assert "<title>Mon 15 Jun 08:00–09:00 UTC: 31 records, 1 changed (created, updated, deleted)</title>" in body
    assert "<title>Mon 15 Jun 08:00–09:00 UTC: 5.5 seconds</title>" in body
