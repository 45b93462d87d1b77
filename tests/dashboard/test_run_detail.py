from datetime import timedelta

import pytest
from django.utils import timezone

from syncs.models import SyncRun
from tests.dashboard.factories import HTMX, idle_connection, incidents, runs
from tests.syncs.factories import sandbox_connection

pytestmark = pytest.mark.django_db


def test_it_shows_counts_window_checkpoint_timeline_error_and_request_id(viewer_client):
    connection = idle_connection()
    run = runs(connection, 1, status="failed", error_code="UPSTREAM_SERVER_ERROR")[0]
    SyncRun.objects.filter(pk=run.pk).update(
        request_id="req_abc123def456", requested_by="ops.anna", cursor_from={"updated_at": "2026-01-01T00:00:00+00:00"},
        checkpoint={"reader": {"page": 4}}, error_details={"status": 503, "page": 4},
        timeline=[{"at": "2026-01-02T00:00:00+00:00", "event": "queued", "trigger": "dashboard"},
                  {"at": "2026-01-02T00:00:05+00:00", "event": "retry", "code": "UPSTREAM_SERVER_ERROR", "attempt": 1}])
    body = viewer_client.get(f"/runs/{run.pk}/").content.decode()
    for text in ("UPSTREAM_SERVER_ERROR", "The sync retries on its schedule", "req_abc123def456", "ops.anna",
                 "2026-01-01T00:00:00+00:00", "&quot;page&quot;: 4", "retry", "Fetched"):
        assert text in body, text


def test_it_links_the_incidents_it_counts_in(viewer_client):
    connection = idle_connection()
    run = runs(connection, 1, status="failed", error_code="MAPPING_FAILED")[0]
    incidents([connection], error_code="MAPPING_FAILED", last_run=run)
    assert "MAPPING_FAILED" in viewer_client.get(f"/runs/{run.pk}/").content.decode()


def test_it_polls_while_the_run_is_active(viewer_client):
    active = SyncRun.objects.filter(connection=sandbox_connection()).first()
    assert 'hx-trigger="every 2s"' in viewer_client.get(f"/runs/{active.pk}/").content.decode()
    done = runs(idle_connection(name="Other"), 1)[0]
    assert "every 2s" not in viewer_client.get(f"/runs/{done.pk}/").content.decode()


def test_it_shows_retry_only_to_operators_on_finished_failures(viewer_client, operator):
    run = runs(idle_connection(), 1, status="failed", error_code="UPSTREAM_SERVER_ERROR")[0]
    assert ">Retry</button>" not in viewer_client.get(f"/runs/{run.pk}/").content.decode()
    viewer_client.force_login(operator)
    assert ">Retry</button>" in viewer_client.get(f"/runs/{run.pk}/").content.decode()


def test_it_answers_htmx_with_the_run_region(viewer_client):
    run = runs(idle_connection(), 1)[0]
    body = viewer_client.get(f"/runs/{run.pk}/", **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="run"') and "<html" not in body


def test_it_answers_404_for_an_unknown_run(viewer_client):
    assert viewer_client.get("/runs/00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(viewer_client, django_assert_max_num_queries, rows):
    connection = idle_connection()
    run = runs(connection, 1, status="failed", error_code="UPSTREAM_SERVER_ERROR")[0]
    SyncRun.objects.filter(pk=run.pk).update(timeline=[{"at": "2026-01-01T00:00:00+00:00", "event": "retry"}] * rows)
    incidents([connection], last_run=run)
    with django_assert_max_num_queries(7):
        assert viewer_client.get(f"/runs/{run.pk}/").status_code == 200


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_shows_a_rate_limited_run_waiting_until_its_time(viewer_client, headers):
    active = SyncRun.objects.filter(connection=sandbox_connection()).first()
    until = timezone.now().replace(microsecond=0) + timedelta(minutes=15)
    SyncRun.objects.filter(pk=active.pk).update(not_before=until, wait_reason="rate limited")
    body = viewer_client.get(f"/runs/{active.pk}/", headers=headers).content.decode()
    assert f"waiting: rate limited until {until:%H:%M:%S} UTC" in body


def test_it_shows_the_sample_of_records_that_failed_to_map_on_a_success(viewer_client):
    run = runs(idle_connection(), 1, status="succeeded")[0]
    SyncRun.objects.filter(pk=run.pk).update(failed_records=2, attempt=2, error_details={"failed_samples": [
        {"remote_id": "PO7", "error": "purchase_orders record PO7: missing or bad field 'Status'"},
        {"remote_id": None, "error": "purchase_orders record without an Id"}]})
    body = viewer_client.get(f"/runs/{run.pk}/").content.decode()
    for text in ("2 records could not be mapped", "PO7", "missing or bad field &#x27;Status&#x27;", "(no id)",
                 "automatic retry 1", "The incident resolves on the next run"):
        assert text in body, text


@pytest.mark.parametrize("htmx", [True, False])
def test_it_shows_percent_done_when_the_upstream_reports_a_total(viewer_client, htmx):
    connection = idle_connection()
    counted, uncounted = runs(connection, 1, status="running")[0], runs(connection, 1, entity="assets")[0]
    SyncRun.objects.filter(pk=counted.pk).update(fetched=30, total_records=120)
    body = viewer_client.get(f"/runs/{counted.pk}/", **(HTMX if htmx else {})).content.decode()
    assert "25 % (30 of 120)" in body
    assert "% (" not in viewer_client.get(f"/runs/{uncounted.pk}/").content.decode()


def test_it_says_a_queued_run_waits_for_a_slot_on_its_connection(viewer_client, settings):
    settings.SYNC_MAX_RUNS_PER_CONNECTION = 2
    connection = sandbox_connection(entities=["vendors", "assets", "locations"])
    SyncRun.objects.filter(connection=connection, entity__in=["vendors", "assets"]).update(status="running")
    third = SyncRun.objects.get(connection=connection, entity="locations")
    for headers in ({}, HTMX):
        body = viewer_client.get(f"/runs/{third.pk}/", headers=headers).content.decode()
        assert "waiting: waiting for a slot on this connection" in body
        assert " until " not in body.split("waiting for a slot")[1][:40]
    SyncRun.objects.filter(connection=connection, entity="assets").update(status="succeeded")
    assert "waiting for a slot" not in viewer_client.get(f"/runs/{third.pk}/").content.decode()


def test_it_shows_the_priority_and_how_often_the_run_gave_way(viewer_client):
    run = runs(idle_connection(), 1)[0]
    SyncRun.objects.filter(pk=run.pk).update(priority=0, yields=2)
    body = viewer_client.get(f"/runs/{run.pk}/").content.decode()
    assert "scheduled · gave its worker to other work 2 times, went on from its checkpoint" in body
    SyncRun.objects.filter(pk=run.pk).update(priority=10, yields=0)
    body = viewer_client.get(f"/runs/{run.pk}/", headers=HTMX).content.decode()
    assert "<dd>manual</dd>" in body and "gave its worker" not in body
