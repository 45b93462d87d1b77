"""Test connection on a saved connection."""

import pytest

from connections.models import Connection
from core.models import AuditEvent
from tests.dashboard.factories import HTMX, idle_connection

pytestmark = pytest.mark.django_db


def test_it_reports_success_inline(operator_client):
    connection = idle_connection()
    body = operator_client.post(f"/connections/{connection.pk}/test", **HTMX).content.decode()
    assert "Connection test passed" in body
    assert AuditEvent.objects.get(action="connection.tested").details == {"ok": True, "code": ""}


def test_it_reports_the_catalogued_error_with_what_to_do(operator_client):
    connection = idle_connection()
    Connection.objects.filter(pk=connection.pk).update(config={**connection.config, "faults": {"auth_failure": True}})
    body = operator_client.post(f"/connections/{connection.pk}/test", **HTMX).content.decode()
    assert "UPSTREAM_AUTHENTICATION_FAILED" in body
    assert "Reauthorize the connection with valid credentials." in body
    assert AuditEvent.objects.get(action="connection.tested").details["code"] == "UPSTREAM_AUTHENTICATION_FAILED"


def test_it_works_without_javascript(operator_client):
    connection = idle_connection()
    response = operator_client.post(f"/connections/{connection.pk}/test", follow=True)
    assert "Connection test passed" in response.content.decode()


def test_it_refuses_read_only_users(viewer_client):
    assert viewer_client.post(f"/connections/{idle_connection().pk}/test").status_code == 403
    assert not AuditEvent.objects.filter(action="connection.tested").exists()
