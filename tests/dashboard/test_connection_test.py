"""Test connection on a saved connection."""

import pytest

from connections.connectors.base import UpstreamError
from connections.connectors.sandbox import SandboxConnector
from connections.models import Connection
from core.models import AuditEvent
from tests.dashboard.factories import HTMX, idle_connection

pytestmark = pytest.mark.django_db

ENTITIES = ["vendors", "purchase_orders", "assets"]


@pytest.fixture
def sap_like_rights(monkeypatch):
    """The credentials work, but purchase orders are forbidden and assets are not there."""
    errors = {"purchase_orders": UpstreamError("UPSTREAM_PERMISSION_DENIED", "No authorization for A_PurchaseOrder."),
              "assets": UpstreamError("UPSTREAM_NOT_FOUND", "No service API_EQUIPMENT.")}
    real = SandboxConnector.probe

    def probe(self, entity):
        if entity in errors:
            raise errors[entity]
        real(self, entity)

    monkeypatch.setattr(SandboxConnector, "probe", probe)


def test_it_reports_success_inline(operator_client):
    connection = idle_connection(entities=ENTITIES)
    body = operator_client.post(f"/connections/{connection.pk}/test", **HTMX).content.decode()
    assert "Connection test passed" in body
    for entity in ENTITIES:
        assert f'data-entity="{entity}" data-outcome="ok"' in body
    assert AuditEvent.objects.get(action="connection.tested").details == {
        "ok": True, "code": "", "entities": dict.fromkeys(ENTITIES, "ok")}


@pytest.mark.parametrize("htmx", [True, False])
def test_it_shows_which_entities_cannot_be_read(operator_client, sap_like_rights, htmx):
    connection = idle_connection(entities=ENTITIES)
    response = operator_client.post(f"/connections/{connection.pk}/test", follow=not htmx, **(HTMX if htmx else {}))
    body = response.content.decode()
    if htmx:
        assert "2 of 3 entities cannot be read" in body
        assert 'data-entity="vendors" data-outcome="ok"' in body
        assert 'data-entity="purchase_orders" data-outcome="no_permission"' in body and "no permission" in body
        assert 'data-entity="assets" data-outcome="not_found"' in body and "not found" in body
        assert "No authorization for A_PurchaseOrder." in body
    else:  # after the redirect, as a message
        assert "2 of 3 entities cannot be read" in body
        assert "vendors: ok" in body and "purchase orders: no permission (UPSTREAM_PERMISSION_DENIED)" in body
        assert "assets: not found (UPSTREAM_NOT_FOUND)" in body
    assert AuditEvent.objects.get(action="connection.tested").details["entities"] == {
        "vendors": "ok", "purchase_orders": "no_permission", "assets": "not_found"}


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
