"""Editing interval, history_days and entities."""

import pytest

from core.models import AuditEvent
from tests.dashboard.factories import HTMX, idle_connection

pytestmark = pytest.mark.django_db


def test_it_saves_interval_history_and_entities(operator_client):
    connection = idle_connection()
    body = operator_client.post(f"/connections/{connection.pk}/settings", {
        "sync_interval_minutes": 15, "history_days": 30, "entities": ["vendors", "assets"]}, **HTMX).content.decode()
    connection.refresh_from_db()
    assert (connection.sync_interval_minutes, connection.history_days) == (15, 30)
    assert connection.entities == ["vendors", "assets"]
    assert "Settings saved." in body
    assert AuditEvent.objects.filter(action="connection.updated", actor="operator").exists()


def test_it_shows_field_errors_and_keeps_the_form_open(operator_client):
    connection = idle_connection()
    response = operator_client.post(f"/connections/{connection.pk}/settings", {
        "sync_interval_minutes": 1, "history_days": 30, "entities": ["vendors"]}, **HTMX)
    body = response.content.decode()
    assert "greater than or equal to 5" in body and "<details open>" in body
    connection.refresh_from_db()
    assert connection.sync_interval_minutes == 60


def test_it_works_without_javascript(operator_client):
    connection = idle_connection()
    response = operator_client.post(f"/connections/{connection.pk}/settings", {
        "sync_interval_minutes": 120, "history_days": 90, "entities": ["vendors"]}, follow=True)
    assert response.redirect_chain[-1][1] == 302
    connection.refresh_from_db()
    assert connection.sync_interval_minutes == 120


def test_it_refuses_read_only_users(viewer_client):
    connection = idle_connection()
    response = viewer_client.post(f"/connections/{connection.pk}/settings", {
        "sync_interval_minutes": 15, "history_days": 30, "entities": ["vendors"]})
    assert response.status_code == 403
    connection.refresh_from_db()
    assert connection.sync_interval_minutes == 60
