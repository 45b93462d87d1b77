from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from syncs.models import SyncRun
from tests.dashboard.factories import HTMX, connections, runs
from tests.syncs.factories import sandbox_connection

pytestmark = pytest.mark.django_db
UTC_PLUS_2 = dt_timezone(timedelta(hours=2))


def ids(response) -> set:
    return {r.pk for r in response.context["page"].rows}


def test_it_needs_a_login(client):
    assert client.get("/runs/").status_code == 302


def test_it_says_what_to_do_when_there_are_no_runs(viewer_client):
    assert "No sync runs yet" in viewer_client.get("/runs/").content.decode()


def test_it_filters_by_status_entity_trigger_mode_and_connection(viewer_client):
    a, b = connections(2)
    ok = runs(a, 2)
    failed = runs(a, 1, status="failed", error_code="UPSTREAM_UNREACHABLE", entity="assets")
    manual = runs(b, 1, trigger="dashboard")
    assert ids(viewer_client.get("/runs/", {"status": "failed"})) == {failed[0].pk}
    assert ids(viewer_client.get("/runs/", {"entity": "assets"})) == {failed[0].pk}
    assert ids(viewer_client.get("/runs/", {"trigger": "dashboard"})) == {manual[0].pk}
    assert ids(viewer_client.get("/runs/", {"connection": str(a.pk)})) == {r.pk for r in ok + failed}
    assert len(ids(viewer_client.get("/runs/", {"mode": "incremental"}))) == 4


def test_it_filters_by_time_range(viewer_client):
    conn = connections(1)[0]
    old = runs(conn, 1, ago=timedelta(days=3))
    new = runs(conn, 1, ago=timedelta(hours=1))
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert ids(viewer_client.get("/runs/", {"since": since})) == {new[0].pk}
    assert ids(viewer_client.get("/runs/", {"until": since})) == {old[0].pk}


def test_it_ignores_unknown_filter_values(viewer_client):
    runs(connections(1)[0], 2)
    assert len(ids(viewer_client.get("/runs/", {"status": "bogus", "connection": "not-a-uuid"}))) == 2


def test_it_pages_by_keyset_without_gaps_or_repeats(viewer_client):
    made = runs(connections(1)[0], 120)
    seen, cursor, pages = [], None, 0
    while True:
        response = viewer_client.get("/runs/", {"cursor": cursor} if cursor else {})
        seen += [r.pk for r in response.context["page"].rows]
        cursor, pages = response.context["page"].next_cursor, pages + 1
        if not cursor:
            break
    assert pages == 3 and len(seen) == 120 and set(seen) == {r.pk for r in made}


def test_it_answers_htmx_with_the_results_only(viewer_client):
    runs(connections(1)[0], 1)
    body = viewer_client.get("/runs/", {"status": "succeeded"}, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="results"') and "<html" not in body


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(viewer_client, django_assert_max_num_queries, rows):
    conns = connections(min(rows, 20))
    for i in range(rows):
        runs(conns[i % len(conns)], 1)
    with django_assert_max_num_queries(6):
        response = viewer_client.get("/runs/")
    assert len(response.context["page"].rows) == min(rows, 50)
    with django_assert_max_num_queries(6):
        assert viewer_client.get("/runs/", {"connection": str(conns[0].pk)}).status_code == 200


def test_it_shows_which_queued_runs_wait_and_until_when(viewer_client):
    active = SyncRun.objects.filter(connection=sandbox_connection()).first()
    until = timezone.now().replace(microsecond=0) + timedelta(minutes=3)
    SyncRun.objects.filter(pk=active.pk).update(not_before=until, wait_reason="rate limited")
    assert f"waiting: rate limited until {until:%H:%M:%S} UTC" in viewer_client.get("/runs/").content.decode()


@pytest.mark.parametrize("htmx", [True, False])
def test_it_shows_percent_done_where_the_upstream_reports_a_total(viewer_client, htmx):
    (connection,) = connections(1)
    counted, uncounted = runs(connection, 2)
    SyncRun.objects.filter(pk=counted.pk).update(fetched=30, total_records=120)
    body = viewer_client.get("/runs/", **(HTMX if htmx else {})).content.decode()
    assert "25 % of 120" in body and body.count("% of") == 1


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_polls_the_results_with_their_filters_while_a_listed_run_is_active(viewer_client, headers):
    conn = connections(1)[0]
    runs(conn, 1, status="running")
    body = viewer_client.get("/runs/", {"status": "running", "entity": "vendors"}, headers=headers).content.decode()
    results = body[body.index('<div id="results"'):]
    assert 'data-polling="on"' in results[:300] and 'hx-trigger="every 2s"' in results[:300]
    assert 'hx-get="/runs/?status=running&amp;entity=vendors"' in results[:300]


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_stops_polling_when_no_listed_run_is_active(viewer_client, headers):
    runs(connections(1)[0], 3)
    body = viewer_client.get("/runs/", headers=headers).content.decode()
    assert '<div id="results" data-polling="off">' in body and "every 2s" not in body


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_shows_a_rate_limited_wait_and_percent_with_eta_on_active_rows(viewer_client, headers):
    conn = connections(1)[0]
    waiting, running = runs(conn, 1, status="queued")[0], runs(conn, 1, status="running", entity="inventory_items")[0]
    now = timezone.now()
    until = now.replace(microsecond=0) + timedelta(minutes=3)
    SyncRun.objects.filter(pk=waiting.pk).update(not_before=until, wait_reason="rate limited")
    SyncRun.objects.filter(pk=running.pk).update(started_at=now - timedelta(seconds=100), fetched=1000,
                                                 total_records=5000)
    body = viewer_client.get("/runs/", headers=headers).content.decode()
    assert f"waiting: rate limited until {until:%H:%M:%S} UTC" in body
    assert "20 % of 5,000 · about 6 min left, ETA" in body
    assert "inventory items" in body and "inventory_items<" not in body


def test_it_writes_counts_with_thousands_separators(viewer_client):
    run = runs(connections(1)[0], 1)[0]
    SyncRun.objects.filter(pk=run.pk).update(fetched=1234567, created=20000)
    body = viewer_client.get("/runs/").content.decode()
    assert ">1,234,567<" in body and ">20,000<" in body


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_takes_iso_dates_and_times_in_utc(viewer_client, headers):
    conn = connections(1)[0]
    now = timezone.now()
    old, new = runs(conn, 1, ago=timedelta(days=3))[0], runs(conn, 1, ago=timedelta(hours=1))[0]
    today, three_days_ago = now.date().isoformat(), (now - timedelta(days=3)).date().isoformat()
    assert ids(viewer_client.get("/runs/", {"since": today}, headers=headers)) == {new.pk}
    # A bare date as the end of the range takes the whole day.
    assert ids(viewer_client.get("/runs/", {"until": three_days_ago}, headers=headers)) == {old.pk}
    offset = (now - timedelta(days=1)).astimezone(UTC_PLUS_2).isoformat()
    assert ids(viewer_client.get("/runs/", {"since": offset}, headers=headers)) == {new.pk}


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_says_which_time_it_cannot_read_and_leaves_that_filter_off(viewer_client, headers):
    runs(connections(1)[0], 2)
    response = viewer_client.get("/runs/", {"since": "yesterday", "until": "2026-13-40"}, headers=headers)
    body = response.content.decode()
    assert len(ids(response)) == 2
    assert "From: “yesterday” is not a date (2026-03-01) or an ISO time" in body
    assert "To: “2026-13-40” is not a date" in body and "This filter is off." in body


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_filters_by_connection_or_customer_name_and_shows_a_picked_one_by_name(viewer_client, headers):
    a, b = connections(2, customers=2)
    mine, theirs = runs(a, 2), runs(b, 1)
    assert ids(viewer_client.get("/runs/", {"connection_q": "connection 000"}, headers=headers)) == {r.pk for r in mine}
    assert ids(viewer_client.get("/runs/", {"connection_q": "customer 1"}, headers=headers)) == {theirs[0].pk}
    # An id picked wins over the text typed; the page names the connection, never only its id.
    picked = viewer_client.get("/runs/", {"connection": str(b.pk), "connection_q": "connection 000"})
    assert ids(picked) == {theirs[0].pk}
    assert "Bulk customer 1 / Bulk connection 001" in picked.content.decode()


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_asks_for_more_of_a_name_that_matches_too_many_connections(viewer_client, headers, monkeypatch):
    monkeypatch.setattr("dashboard.forms.MATCH_LIMIT", 2)
    monkeypatch.setattr("dashboard.selectors.connections.MATCH_LIMIT", 2)
    conns = connections(3, customers=3)
    for conn in conns:
        runs(conn, 1)
    too_broad = viewer_client.get("/runs/", {"connection_q": "bulk"}, headers=headers)
    assert len(ids(too_broad)) == 3, "the filter is off, as for any value it refuses"
    assert "Connection: more than 2 connections match “bulk”: type more of the name, or pick one." in \
        too_broad.content.decode()
    narrower = viewer_client.get("/runs/", {"connection_q": "connection 00"}, headers=headers)
    assert "more than 2 connections" in narrower.content.decode()
    one = viewer_client.get("/runs/", {"connection_q": "connection 001"}, headers=headers)
    assert len(ids(one)) == 1 and "This filter is off" not in one.content.decode()
