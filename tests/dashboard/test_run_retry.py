import pytest

from core.models import AuditEvent
from syncs.models import SyncRun
from tests.dashboard.factories import HTMX, idle_connection, runs

pytestmark = pytest.mark.django_db


def test_it_queues_a_retry_of_the_same_entity_and_mode(operator_client):
    failed = runs(idle_connection(), 1, status="failed", error_code="UPSTREAM_SERVER_ERROR", entity="assets")[0]
    body = operator_client.post(f"/runs/{failed.pk}/retry", **HTMX).content.decode()
    retry = SyncRun.objects.get(connection=failed.connection, status="queued")
    assert (retry.entity, retry.mode) == ("assets", "incremental")
    assert (retry.trigger, retry.requested_by) == ("retry", "operator")
    assert "Retry queued" in body and f"/runs/{retry.pk}/" in body
    assert AuditEvent.objects.filter(action="sync.incremental_requested", actor="operator").exists()


def test_it_redirects_to_the_new_run_without_javascript(operator_client):
    failed = runs(idle_connection(), 1, status="failed", error_code="UPSTREAM_SERVER_ERROR")[0]
    response = operator_client.post(f"/runs/{failed.pk}/retry")
    retry = SyncRun.objects.get(connection=failed.connection, status="queued")
    assert response["Location"] == f"/runs/{retry.pk}/"


def test_it_shows_the_catalogued_error_when_the_connection_is_paused(operator_client):
    connection = idle_connection()
    failed = runs(connection, 1, status="failed", error_code="UPSTREAM_SERVER_ERROR")[0]
    operator_client.post(f"/connections/{connection.pk}/pause")
    body = operator_client.post(f"/runs/{failed.pk}/retry", **HTMX).content.decode()
    assert "CONNECTION_NOT_ACTIVE" in body and "Resume the connection first." in body


def test_it_refuses_read_only_users(viewer_client):
    failed = runs(idle_connection(), 1, status="failed", error_code="UPSTREAM_SERVER_ERROR")[0]
    assert viewer_client.post(f"/runs/{failed.pk}/retry").status_code == 403
    assert not SyncRun.objects.filter(status="queued").exists()
