import pytest

from core.models import AuditEvent
from syncs.models import SyncRun
from tests.dashboard.factories import HTMX
from tests.syncs.factories import queued_run, sandbox_connection

pytestmark = pytest.mark.django_db


def test_it_cancels_a_queued_run_and_answers_the_connection_table(operator_client):
    connection = sandbox_connection()
    run = queued_run(connection, "vendors")
    response = operator_client.post(f"/runs/{run.pk}/cancel", **HTMX, HTTP_HX_TARGET="live")
    run.refresh_from_db()
    assert run.status == SyncRun.Status.CANCELLED
    assert response.content.decode().lstrip().startswith('<section id="live"')
    assert AuditEvent.objects.filter(action="sync.cancel_requested", actor="operator", source="dashboard").exists()


def test_it_asks_a_running_run_to_stop_and_answers_the_run_page(operator_client):
    run = queued_run(sandbox_connection(), "assets")
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING)
    body = operator_client.post(f"/runs/{run.pk}/cancel", **HTMX, HTTP_HX_TARGET="run").content.decode()
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING and run.cancel_requested
    assert body.lstrip().startswith('<div id="run"') and "stops after its current page" in body


def test_it_redirects_back_to_where_it_came_from_without_javascript(operator_client):
    connection = sandbox_connection()
    run = queued_run(connection, "vendors")
    response = operator_client.post(f"/runs/{run.pk}/cancel", {"next": f"/connections/{connection.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/connections/{connection.pk}/"
    assert operator_client.post(f"/runs/{run.pk}/cancel", {"next": "https://evil.example/"})["Location"] == \
        f"/runs/{run.pk}/"


def test_it_refuses_read_only_users(viewer_client):
    run = queued_run(sandbox_connection(), "vendors")
    assert viewer_client.post(f"/runs/{run.pk}/cancel").status_code == 403
    run.refresh_from_db()
    assert run.status == SyncRun.Status.QUEUED and not run.cancel_requested
