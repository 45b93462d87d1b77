"""Pause and Resume on the connection page."""

import pytest

from connections.models import Connection
from core.models import AuditEvent
from syncs.models import SyncRun
from tests.dashboard.factories import HTMX, idle_connection
from tests.syncs.factories import sandbox_connection

pytestmark = pytest.mark.django_db


def test_it_pauses_cancels_queued_runs_and_answers_htmx_with_the_page_region(operator_client):
    connection = sandbox_connection()  # six queued runs
    response = operator_client.post(f"/connections/{connection.pk}/pause", {"reason": "upstream maintenance"}, **HTMX)
    body = response.content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED and connection.status_reason == "upstream maintenance"
    assert not SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE_STATUSES).exists()
    assert body.lstrip().startswith('<div id="connection">')
    assert "badge status-paused" in body and ">Resume</button>" in body
    assert AuditEvent.objects.filter(action="connection.paused", source="dashboard", actor="operator").exists()


def test_it_resumes_with_a_redirect_after_a_plain_post(operator_client):
    connection = idle_connection()
    operator_client.post(f"/connections/{connection.pk}/pause")
    response = operator_client.post(f"/connections/{connection.pk}/resume", follow=True)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert response.redirect_chain[-1] == (f"/connections/{connection.pk}/", 302)
    assert "Resumed" in response.content.decode()
    assert AuditEvent.objects.filter(action="connection.resumed", actor="operator").exists()


def test_it_refuses_read_only_users(viewer_client):
    connection = idle_connection()
    assert viewer_client.post(f"/connections/{connection.pk}/pause").status_code == 403
    assert viewer_client.post(f"/connections/{connection.pk}/resume").status_code == 403
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
