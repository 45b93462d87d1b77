import pytest

from connections.services import connection_by_token
from core.models import AuditEvent
from tests.dashboard.factories import HTMX, idle_connection

pytestmark = pytest.mark.django_db


def _token(body: str) -> str:
    start = body.index('value="ctk_') + len('value="')
    return body[start:body.index('"', start)]


def test_it_shows_the_new_token_once_and_it_works(operator_client):
    connection = idle_connection()
    old_prefix = connection.token_prefix
    response = operator_client.post(f"/connections/{connection.pk}/rotate-token", **HTMX)
    token = _token(response.content.decode())
    assert "no-store" in response["Cache-Control"]
    assert connection_by_token(token=token).pk == connection.pk
    connection.refresh_from_db()
    assert connection.token_prefix != old_prefix
    again = operator_client.get(f"/connections/{connection.pk}/").content.decode()
    assert token not in again
    assert AuditEvent.objects.filter(action="connection.token_rotated", actor="operator").exists()


def test_it_shows_the_token_on_a_full_page_without_javascript(operator_client):
    connection = idle_connection()
    response = operator_client.post(f"/connections/{connection.pk}/rotate-token")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body and connection_by_token(token=_token(body)).pk == connection.pk


def test_it_refuses_read_only_users(viewer_client):
    connection = idle_connection()
    assert viewer_client.post(f"/connections/{connection.pk}/rotate-token").status_code == 403
    connection.refresh_from_db()
    assert not AuditEvent.objects.filter(action="connection.token_rotated").exists()
