from datetime import timedelta

import pytest
from django.utils import timezone

from connections.connectors import registry
from connections.models import Connection
from syncs.models import SyncRun
from tests.dashboard.factories import HTMX, auth_incident, idle_connection, incidents, runs
from tests.syncs.factories import sandbox_connection

pytestmark = pytest.mark.django_db


def url(connection) -> str:
    return f"/connections/{connection.pk}/"


def test_it_needs_a_login(client):
    connection = idle_connection()
    assert client.get(url(connection)).status_code == 302


def test_it_answers_404_for_an_unknown_connection(viewer_client):
    assert viewer_client.get("/connections/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_it_shows_status_reason_config_and_schedule_but_never_credentials(viewer_client):
    connection = idle_connection(credentials={"api_key": "super-secret-key"})
    body = viewer_client.get(url(connection)).content.decode()
    assert "badge status-active" in body and "credentials verified" in body
    assert "Page size" in body and "60 min" in body and "90 days" in body
    assert "super-secret-key" not in body
    assert connection.token_prefix in body


def test_it_shows_a_row_per_entity_with_its_last_run_and_records(viewer_client):
    connection = idle_connection(entities=["vendors", "assets"])
    response = viewer_client.get(url(connection))
    rows = response.context["live"].rows
    assert [r.entity for r in rows] == ["vendors", "assets"]
    assert all(r.last_run.status == "succeeded" and r.state.record_count == 20 for r in rows)
    body = response.content.decode()
    assert 'id="entity-vendors"' in body and 'id="entity-assets"' in body


def test_it_polls_every_two_seconds_only_while_a_run_is_active(viewer_client):
    busy = sandbox_connection(name="Busy")  # its initial full runs are queued
    idle = idle_connection(name="Idle")
    busy_body = viewer_client.get(url(busy)).content.decode()
    idle_body = viewer_client.get(url(idle)).content.decode()
    assert 'hx-trigger="every 2s"' in busy_body and 'data-polling="on"' in busy_body
    assert 'hx-trigger="every 2s"' not in idle_body and 'data-polling="off"' in idle_body


def test_it_serves_the_polled_region_alone(viewer_client):
    busy = sandbox_connection()
    SyncRun.objects.filter(connection=busy, entity="vendors").update(status="running", pages=3, fetched=30)
    response = viewer_client.get(f"/connections/{busy.pk}/live", **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="live"') and "<html" not in body
    assert "page 3 · 30 records" in body


def test_it_stops_polling_once_nothing_runs(viewer_client):
    busy = sandbox_connection()
    SyncRun.objects.filter(connection=busy).update(status="succeeded")
    body = viewer_client.get(f"/connections/{busy.pk}/live", **HTMX).content.decode()
    assert "every 2s" not in body


def test_it_shows_buttons_to_operators(operator_client):
    body = operator_client.get(url(idle_connection())).content.decode()
    for label in ("Sync now", "Full resync", "Sync all now", "Full resync all", "Pause", "Test connection",
                  "Rotate token", "Save settings", "Update credentials", "Disconnect…", "+ Add endpoint"):
        assert label in body, label


def test_it_hides_every_button_from_read_only_users(viewer_client):
    connection = sandbox_connection()
    incidents([connection])
    body = viewer_client.get(url(connection)).content.decode()
    for label in ("Sync now", "Full resync", "Cancel</button>", "Pause</button>", "Test connection", "Rotate token",
                  "Save settings", "Acknowledge", "Resolve</button>", "Update credentials", "Disconnect…",
                  "Add endpoint"):
        assert label not in body, label


def test_it_shows_cancel_on_active_runs(operator_client):
    body = operator_client.get(url(sandbox_connection())).content.decode()
    assert body.count(">Cancel</button>") == 6


def test_it_lists_recent_runs_and_open_incidents(viewer_client):
    connection = idle_connection()
    failed = runs(connection, 2, status="failed", error_code="UPSTREAM_SERVER_ERROR")
    incidents([connection], last_run=failed[0])
    body = viewer_client.get(url(connection)).content.decode()
    assert "UPSTREAM_SERVER_ERROR" in body
    assert f"/runs/{failed[0].pk}/" in body
    assert "The sync retries on its schedule" in body  # the catalogue's hint


def test_it_shows_a_connection_level_incident_as_one_row_listing_its_entities(viewer_client):
    connection = idle_connection()
    auth_incident(connection, entities=["assets", "locations", "purchase_orders", "vendors"])
    incidents([connection], entity="work_orders", error_code="UPSTREAM_PERMISSION_DENIED")
    response = viewer_client.get(url(connection))
    assert [i.entity for i in response.context["incidents"]] == ["", "work_orders"], "connection-level first"
    section = response.content.decode().split('<section id="incidents">')[1].split("</section>")[0]
    assert section.count("UPSTREAM_AUTHENTICATION_FAILED</code>") == 1
    assert "Whole connection; stopped:" in section and '<span class="chip">purchase orders</span>' in section


def test_it_counts_acknowledged_incidents_as_open_and_says_so(viewer_client):
    connection = idle_connection()
    auth_incident(connection, status="acknowledged")
    incidents([connection], entity="work_orders")
    body = viewer_client.get(url(connection)).content.decode()
    assert '<small id="incident-counts">2 open, 1 acknowledged</small>' in body
    assert "badge status-acknowledged" in body


def test_it_answers_htmx_with_the_connection_region(viewer_client):
    body = viewer_client.get(url(idle_connection()), **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="connection">') and "<html" not in body


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(operator_client, django_assert_max_num_queries, rows):
    connection = idle_connection()
    runs(connection, rows, status="failed", error_code="UPSTREAM_SERVER_ERROR")
    incidents([connection])
    from tests.dashboard.factories import audit_events

    audit_events(rows, connection=connection)
    # 14: the page, its live header (last sync) and its charts (one rollups query), whatever the rows.
    with django_assert_max_num_queries(14):
        response = operator_client.get(url(connection))
    assert response.status_code == 200
    assert len(response.context["live"].recent_runs) == min(rows + 6, 15)


def test_it_opens_the_page_of_a_connection_whose_connector_is_no_longer_in_the_code(viewer_client):
    connection = idle_connection(entities=["vendors"])
    Connection.objects.filter(pk=connection.pk).update(connector="retired_erp")
    response = viewer_client.get(url(connection))
    assert response.status_code == 200 and "retired_erp" in response.content.decode()
    assert [r.entity for r in response.context["live"].rows] == ["vendors"]


def test_it_lets_a_broken_connector_module_fail_loudly(viewer_client, monkeypatch):
    connection = idle_connection(entities=["vendors"])

    class BrokenCatalogue(dict):
        def __getitem__(self, key):  # a connector class that fails as it is looked up
            raise ImportError("cannot import name 'Client' from a connector module")

    monkeypatch.setattr(registry, "CONNECTORS", BrokenCatalogue(registry.CONNECTORS))
    with pytest.raises(ImportError):
        viewer_client.get(url(connection))


def header_of(body: str) -> str:
    start = body.index('<div id="connection-header"')
    return body[start:body.index("</div>", start)]


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_polls_the_header_while_a_run_is_queued_or_running(viewer_client, headers):
    connection = sandbox_connection()  # its initial runs are queued
    header = header_of(viewer_client.get(url(connection), headers=headers).content.decode())
    assert f'hx-get="/connections/{connection.pk}/header"' in header and 'hx-trigger="every 2s"' in header
    assert 'data-polling="on"' in header and "queued or running" in header


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_stops_polling_the_header_when_no_run_moves_and_shows_the_last_sync(viewer_client, headers):
    connection = idle_connection()
    header = header_of(viewer_client.get(url(connection), headers=headers).content.decode())
    assert 'data-polling="off"' in header and "every 2s" not in header
    assert 'hx-trigger="live-started from:body"' in header and "Last sync succeeded <time" in header


def test_it_answers_the_header_poll_with_the_header_alone(viewer_client):
    connection = sandbox_connection()
    Connection.objects.filter(pk=connection.pk).update(status="unreachable", status_reason="upstream down")
    body = viewer_client.get(f"/connections/{connection.pk}/header", **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="connection-header"') and "<html" not in body
    assert "badge status-unreachable" in body and "upstream down" in body and "Test connection" not in body


def test_it_sends_a_plain_get_of_the_header_to_the_page(viewer_client):
    connection = idle_connection()
    response = viewer_client.get(f"/connections/{connection.pk}/header")
    assert response.status_code == 302 and response["Location"] == url(connection)


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_shows_an_entity_row_waiting_on_a_rate_limit(viewer_client, headers):
    connection = sandbox_connection(entities=["vendors"])
    until = timezone.now().replace(microsecond=0) + timedelta(minutes=2)
    SyncRun.objects.filter(connection=connection).update(not_before=until, wait_reason="rate limited")
    body = viewer_client.get(f"/connections/{connection.pk}/live", headers=headers).content.decode()
    assert f"waiting: rate limited until {until:%H:%M:%S} UTC" in body


def test_it_polls_the_header_of_a_pending_connection_whose_status_is_about_to_change(viewer_client):
    connection = idle_connection()
    Connection.objects.filter(pk=connection.pk).update(status="pending")
    header = header_of(viewer_client.get(url(connection)).content.decode())
    assert 'hx-trigger="every 2s"' in header and "badge status-pending" in header


def test_it_shows_recent_activity_details_inline(viewer_client):
    connection = idle_connection()
    body = viewer_client.get(url(connection)).content.decode()
    activity = body[body.index('<ul class="activity">'):]
    assert "connector: sandbox · token prefix: ctk_" in activity
