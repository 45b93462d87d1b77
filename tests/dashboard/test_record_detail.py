import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from syncs.models import Record, SyncRun
from tests.dashboard.factories import HTMX, VIEW_PERMISSIONS, connections, grant, records
from tests.syncs.factories import run_row

pytestmark = pytest.mark.django_db


def url(record, entity=None, pk=None) -> str:
    return reverse("dashboard:record", args=[record.connection_id, entity or record.entity, pk or record.pk])


@pytest.fixture
def record():
    return records(connections(1)[0], 1)[0]


def changed_at(record, moment) -> Record:
    Record.objects.filter(pk=record.pk).update(modified_at=moment)
    record.refresh_from_db()
    return record


def test_it_shows_the_unified_record_and_the_raw_copy_escaped(viewer_client, record):
    response = viewer_client.get(url(record))
    body = response.content.decode()
    assert "<h1>4500000000" in body and "remote id R0" in body
    assert "<dt>Name</dt><dd>Order 0</dd>" in body  # a scalar field reads as text
    assert "&quot;line_number&quot;: 10" in body  # a list reads as indented JSON
    assert "&quot;EBELN&quot;: &quot;4500000000&quot;" in body
    assert "&lt;b&gt;bold&lt;/b&gt;" in body and "<b>bold</b>" not in body
    assert "<html" in body and reverse("dashboard:records", args=[record.connection_id, "purchase_orders"]) in body


def test_it_answers_htmx_with_the_record_region_only(viewer_client, record):
    response = viewer_client.get(url(record), **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="record">') and "<html" not in body and "EBELN" in body
    assert "HX-Request" in response["Vary"]


def test_it_names_the_run_whose_window_holds_the_last_change(viewer_client, record):
    now = timezone.now()
    before = run_row(record.connection, "purchase_orders", status=SyncRun.Status.SUCCEEDED,
                     started_at=now - timedelta(hours=3), finished_at=now - timedelta(hours=2, minutes=50))
    changer = run_row(record.connection, "purchase_orders", status=SyncRun.Status.SUCCEEDED,
                      started_at=now - timedelta(hours=2), finished_at=now - timedelta(hours=1))
    later = run_row(record.connection, "purchase_orders", status=SyncRun.Status.SUCCEEDED,
                    started_at=now - timedelta(minutes=30), finished_at=now - timedelta(minutes=20))
    other = run_row(record.connection, "vendors", status=SyncRun.Status.RUNNING, started_at=now - timedelta(hours=2))
    for run, queued in ((before, 3), (changer, 2), (later, 0.5), (other, 2)):
        SyncRun.objects.filter(pk=run.pk).update(queued_at=now - timedelta(hours=queued, seconds=1))
    # The later run saw it unchanged: it is the last SEEN run, not the one that changed it.
    Record.objects.filter(pk=record.pk).update(last_seen_run=later.pk)
    changed_at(record, now - timedelta(hours=1, minutes=30))
    response = viewer_client.get(url(record))
    assert response.context["changed_by"] == changer
    assert reverse("dashboard:run", args=[changer.pk]) in response.content.decode()


def test_it_names_a_running_run_that_changed_it(viewer_client, record):
    now = timezone.now()
    running = run_row(record.connection, "purchase_orders", status=SyncRun.Status.RUNNING,
                      started_at=now - timedelta(minutes=10))
    SyncRun.objects.filter(pk=running.pk).update(queued_at=now - timedelta(minutes=11))
    changed_at(record, now - timedelta(minutes=5))
    assert viewer_client.get(url(record)).context["changed_by"] == running


def test_it_says_so_when_no_run_holds_the_change(viewer_client, record):
    now = timezone.now()
    run_row(record.connection, "purchase_orders", status=SyncRun.Status.SUCCEEDED,
            started_at=now - timedelta(hours=3), finished_at=now - timedelta(hours=2))
    changed_at(record, now - timedelta(hours=1))
    response = viewer_client.get(url(record))
    assert response.context["changed_by"] is None and "not known" in response.content.decode()


def test_it_shows_when_a_record_was_deleted(viewer_client, record):
    Record.objects.filter(pk=record.pk).update(deleted_at=timezone.now() - timedelta(hours=2))
    body = viewer_client.get(url(record)).content.decode()
    assert "status-deleted" in body and "no longer upstream" in body


def test_it_answers_404_for_an_unknown_record(viewer_client, record):
    assert viewer_client.get(url(record, pk=uuid.uuid4())).status_code == 404


def test_it_answers_404_for_a_record_under_another_entity_or_connection(viewer_client, record):
    other = connections(1)[0]
    assert viewer_client.get(url(record, entity="work_orders")).status_code == 404
    assert viewer_client.get(reverse("dashboard:record", args=[other.pk, record.entity, record.pk])).status_code == 404


def test_it_answers_404_for_an_unknown_entity(viewer_client, record):
    assert viewer_client.get(url(record, entity="invoices")).status_code == 404


def test_it_needs_the_record_view_permission(client, django_user_model, record):
    user = grant(django_user_model.objects.create_user("no-records", password="pw", is_staff=True),
                 *(p for p in VIEW_PERMISSIONS if p != "syncs.view_record"))
    client.force_login(user)
    for headers in ({}, HTMX):
        response = client.get(url(record), **headers)
        assert response.status_code == 403 and "EBELN" not in response.content.decode()


def test_it_needs_a_login(client, record):
    assert client.get(url(record)).status_code == 302
