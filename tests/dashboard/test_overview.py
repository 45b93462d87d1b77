from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from syncs.models import RunHourlyRollup, RunHourlyTotal, SyncRun
from syncs.rollups import rollup_add
from tests.dashboard.factories import HTMX, auth_incident, connections, incidents, runs

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)


def test_it_redirects_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_serves_the_login_page(client):
    assert client.get("/login/").status_code == 200


def test_it_says_what_to_do_when_there_are_no_connections(admin_client):
    body = admin_client.get("/").content.decode()
    assert "No connections yet" in body and "/connect/" in body


def test_it_says_how_to_add_a_webhook_endpoint_when_there_is_none(operator_client):
    body = operator_client.get("/").content.decode()
    assert "No endpoint yet: nothing is notified." in body and 'href="/webhooks/new">Add one</a>' in body


def test_it_offers_adding_an_endpoint_only_to_who_may(viewer_client):
    body = viewer_client.get("/").content.decode()
    assert "No endpoint yet: nothing is notified." in body and 'href="/webhooks/new"' not in body


def test_it_counts_connections_runs_and_incidents(admin_client):
    conns = connections(3)
    runs(conns[0], 4, status=SyncRun.Status.SUCCEEDED)
    runs(conns[1], 2, status=SyncRun.Status.FAILED, error_code="UPSTREAM_SERVER_ERROR")
    incidents(conns[:2])
    response = admin_client.get("/")
    summary = response.context["summary"]
    assert summary["connections_total"] == 3
    assert dict(summary["runs_24h"])["succeeded"] == 4
    assert dict(summary["runs_24h"])["failed"] == 2
    assert summary["incidents"]["open"] == 2


def test_it_counts_acknowledged_incidents_as_open(admin_client):
    conns = connections(3)
    incidents(conns[:2])
    auth_incident(conns[2], status="acknowledged")
    response = admin_client.get("/")
    incidents_ = response.context["summary"]["incidents"]
    assert (incidents_["open"], incidents_["acknowledged"]) == (3, 1)
    assert "of which 1 acknowledged: someone is on it, not fixed yet" in response.content.decode()


def test_it_counts_incidents_by_cause(admin_client):
    conns = connections(3)
    for c in conns:  # bad credentials on three connections: one incident each, whatever the entities
        auth_incident(c)
    incidents(conns[:1], status="acknowledged")
    incidents(conns[:1], entity="assets")
    by_cause = admin_client.get("/").context["summary"]["incidents"]["by_cause"]
    assert [(r["error_code"], r["open"], r["acknowledged"], r["connections"]) for r in by_cause] == [
        ("UPSTREAM_AUTHENTICATION_FAILED", 3, 0, 3), ("UPSTREAM_SERVER_ERROR", 2, 1, 1)]
    assert by_cause[0]["title"] == "The upstream system rejected the credentials."
    body = admin_client.get("/", **HTMX).content.decode()
    assert "Incidents by cause" in body and 'href="/failures/?error_code=UPSTREAM_AUTHENTICATION_FAILED"' in body


def test_it_draws_records_read_and_changed_and_runs_as_svg(admin_client):
    conn = connections(1)[0]
    runs(conn, 3, ago=timedelta(hours=2))
    body = admin_client.get("/").content.decode()
    assert body.count("<svg") == 2 and "per hour per hour" not in body
    assert "Records read" in body and "changed (created, updated, deleted)" in body and "Runs finished" in body
    charts = admin_client.get("/").context["charts"]
    assert sum(v for _, v in charts["read"]) == 10 + 11 + 12
    assert sum(v for _, v in charts["changed"]) == 0 + 1 + 2  # created only: the factory's runs update nothing


def test_it_counts_records_deleted_as_changed(admin_client):
    conn = connections(1)[0]
    made = runs(conn, 1, ago=timedelta(hours=1))[0]
    made.deleted = 4
    RunHourlyRollup.objects.all().delete()
    RunHourlyTotal.objects.all().delete()
    rollup_add(run=made)
    charts = admin_client.get("/").context["charts"]
    assert sum(v for _, v in charts["changed"]) == 0 + 4 and sum(v for _, v in charts["read"]) == 10


def test_it_lists_the_slowest_and_most_failing_connections(admin_client):
    slow, failing = connections(2)
    runs(slow, 2)
    runs(failing, 5, status=SyncRun.Status.FAILED, error_code="UPSTREAM_UNREACHABLE")
    response = admin_client.get("/")
    assert [r["connection"].pk for r in response.context["slowest"]] == [slow.pk]
    assert response.context["failing"][0]["connection"].pk == failing.pk
    assert response.context["failing"][0]["failed"] == 5


def test_it_answers_htmx_with_the_figures_region_only(admin_client):
    response = admin_client.get("/", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="figures">')
    assert "<html" not in body


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(admin_client, django_assert_max_num_queries, rows):
    conns = connections(rows)
    for conn in conns[:10]:
        runs(conn, rows // 10 + 1, status=SyncRun.Status.FAILED, error_code="UPSTREAM_SERVER_ERROR")
        runs(conn, rows // 10 + 1)
    incidents(conns)
    # 12, the "Workers and queues" panel's two (heartbeats, one aggregate over the queued runs) and
    # the "Running now" region's count of active runs (its list only when one runs).
    with django_assert_max_num_queries(15):
        response = admin_client.get("/")
    assert response.status_code == 200
    assert response.context["summary"]["connections_total"] == rows


def test_it_buckets_runs_by_the_hour_they_finished(admin_client):
    conn = connections(1)[0]
    runs(conn, 1, ago=timedelta(hours=30))  # outside the 24 h window
    runs(conn, 2, status=SyncRun.Status.FAILED, error_code="MAPPING_FAILED", ago=timedelta(hours=3))
    charts = admin_client.get("/").context["charts"]
    assert sum(v for _, v in charts["failed"]) == 2 and sum(v for _, v in charts["runs"]) == 2
    assert len(charts["failed"]) == 24
    assert charts["failed"][-1][0] <= timezone.now()


def hour_of(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def test_it_charts_the_24_hours_up_to_the_current_one_at_any_instant(admin_client, fixed_now):
    # fixed_now is --now: run with --now=2026-12-31T23:59:30+00:00 and the like to try awkward instants.
    conn = connections(1)[0]
    made = runs(conn, 2, ago=timedelta(minutes=50))
    before = timezone.now()
    response = admin_client.get("/")
    after = timezone.now()
    read = response.context["charts"]["read"]
    assert len(read) == 24 and hour_of(before) <= read[-1][0] <= hour_of(after)
    buckets = dict(read)
    assert all(buckets[hour_of(run.finished_at)] >= run.fetched for run in made)
    # Every 6 hours a date label, the newest of them on the axis.
    newest = read[-1][0] - timedelta(hours=read[-1][0].hour % 6)
    assert f">{newest:%d %b %H:%M}</text>" in response.content.decode()


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_polls_its_counts_and_running_now_while_a_run_is_queued_or_running(admin_client, headers):
    conn = connections(1)[0]
    runs(conn, 1, status="queued", entity="assets")
    running = runs(conn, 1, status="running", entity="inventory_items")[0]
    SyncRun.objects.filter(pk=running.pk).update(fetched=12345)
    body = admin_client.get("/", headers=headers).content.decode()
    region = body[body.index('<div id="now"'):]
    assert region.startswith('<div id="now" class="now" hx-get="/now" hx-swap="outerHTML" hx-trigger="every 2s"')
    assert "1 run running · 1 run queued" in region and "inventory items" in region and ">12,345<" in region


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_polls_slowly_when_nothing_is_queued_or_running(admin_client, headers):
    runs(connections(1)[0], 2)
    body = admin_client.get("/", headers=headers).content.decode()
    region = body[body.index('<div id="now"'):]
    assert region.startswith('<div id="now" class="now" hx-get="/now" hx-swap="outerHTML" hx-trigger="every 15s" '
                             'data-polling="slow">')
    assert "No run is queued or running." in region and "every 2s" not in region[:200]


def test_it_answers_the_poll_with_the_live_region_alone(admin_client):
    runs(connections(1)[0], 1, status="running")
    body = admin_client.get("/now", **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="now"') and "<html" not in body and 'id="machinery"' not in body
    assert "Runs in the last 24 h" in body and "1 run running · 0 runs queued" in body


def test_it_sends_a_plain_get_of_the_poll_to_the_overview(admin_client):
    response = admin_client.get("/now")
    assert response.status_code == 302 and response["Location"] == "/#now"


def test_it_writes_its_counts_with_thousands_separators(admin_client):
    connections(1234)
    assert '<div class="figure">1,234</div>' in admin_client.get("/").content.decode()


@pytest.mark.parametrize(("key", "bars", "per", "label"), [
    ("24h", 24, "hour", "15 Jun 06:00"), ("7d", 28, "6 hours", "Mon 15 Jun"), ("30d", 30, "day", "Mon 15 Jun")])
def test_it_charts_each_range_in_its_own_buckets(admin_client, key, bars, per, label):
    conn = connections(1)[0]
    with time_machine.travel(NOW, tick=False):
        runs(conn, 1, ago=timedelta(hours=5))
        runs(conn, 2, ago=timedelta(days=3))
        runs(conn, 4, ago=timedelta(days=20))
        response = admin_client.get(f"/?range={key}")
    charts = response.context["charts"]
    assert len(charts["runs"]) == bars and charts["range"].per == per
    assert sum(v for _, v in charts["runs"]) == {"24h": 1, "7d": 3, "30d": 7}[key]
    body = response.content.decode()
    assert f"per {per}, last {charts['range'].span}" in body and f">{label}</text>" in body
    assert f'href="?range={key}" hx-get="?range={key}" hx-target="#charts" hx-swap="outerHTML" hx-push-url="true" ' \
           'aria-current="true"' in body


def test_it_aligns_30_days_on_utc_midnights_and_7_days_on_6_hour_marks(admin_client):
    with time_machine.travel(NOW, tick=False):
        month = admin_client.get("/?range=30d").context["charts"]["runs"]
        week = admin_client.get("/?range=7d").context["charts"]["runs"]
    assert month[-1][0] == datetime(2026, 6, 15, tzinfo=UTC) and month[0][0] == datetime(2026, 5, 17, tzinfo=UTC)
    assert week[-1][0] == datetime(2026, 6, 15, 6, tzinfo=UTC) and week[0][0] == datetime(2026, 6, 8, 12, tzinfo=UTC)


def test_it_takes_an_unknown_range_for_24_hours(admin_client):
    assert admin_client.get("/?range=1y").context["charts"]["range"].key == "24h"


def test_it_answers_a_range_link_with_the_charts_region_only(admin_client):
    runs(connections(1)[0], 1)
    response = admin_client.get("/?range=7d", HTTP_HX_TARGET="charts", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert body.lstrip().startswith('<section id="charts"') and "<html" not in body and "Workers and queues" not in body
    assert body.count("<svg") == 2


def test_it_says_the_charts_fill_in_as_runs_finish_on_a_fresh_install(admin_client):
    body = admin_client.get("/").content.decode()
    assert "No run finished in the last 24 h: the charts fill in as runs finish." in body


def test_it_counts_runs_without_reading_runs_that_finished(admin_client):
    conn = connections(1)[0]
    runs(conn, 3)
    SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).delete()  # the rollups keep what they added up
    response = admin_client.get("/")
    assert dict(response.context["summary"]["runs_24h"])["succeeded"] == 3
    assert response.context["slowest"][0]["runs"] == 3


def test_it_says_none_is_acknowledged_rather_than_counting_zero(admin_client):
    incidents(connections(1))
    body = admin_client.get("/").content.decode()
    assert "none acknowledged yet" in body and "of which 0" not in body
