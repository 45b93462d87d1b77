"""POST /connect-links, GET /connect-links/{id}, POST /connect-links/{id}/revoke (admin key)."""

import pytest

from connections.models import ConnectLink, Customer
from core.models import AuditEvent
from core.tokens import token_hash
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

BODY = {"customer": {"name": "Acme Plant", "external_id": "acme-1"}, "connectors": ["sandbox", "sap_s4hana"],
        "entities": ["vendors", "purchase-orders"], "redirect_url": "https://app.example.com/done"}


def test_it_creates_a_link_and_shows_its_url_once(admin, fixed_now):
    response = admin.post("/api/v1/connect-links", BODY)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "url", "expires_at"}
    assert "no-store" in response["Cache-Control"]
    assert body["expires_at"].startswith("2026-06-22T10:30:0")  # 7 days by default
    token = body["url"].rsplit("/link/", 1)[1].rstrip("/")
    assert body["url"] == f"http://testserver/link/{token}/"
    link = ConnectLink.objects.get(pk=body["id"])
    assert link.token_hash == token_hash(token) and token not in str(link.__dict__.values())
    assert (link.connectors, link.entities) == (["sandbox", "sap_s4hana"], ["vendors", "purchase_orders"])
    assert link.customer == Customer.objects.get(external_id="acme-1")
    assert AuditEvent.objects.get(action="connect_link.created", source="api").details["token_prefix"] == token[:12]
    # Read back: the state, never the URL.
    got = admin.get(f"/api/v1/connect-links/{link.pk}").json()
    assert got["state"] == "active" and "url" not in got and got["customer"]["external_id"] == "acme-1"


def test_it_reuses_the_customer_with_the_external_id(admin):
    customer = Customer.objects.create(name="Acme (old name)", external_id="acme-1")
    admin.post("/api/v1/connect-links", BODY)
    assert ConnectLink.objects.get().customer == customer


@pytest.mark.parametrize(("change", "field"), [
    ({"connectors": ["nope"]}, "connectors"),
    ({"connectors": ["sandbox"], "entities": ["spaceships"]}, "entities"),
    ({"redirect_url": "javascript:alert(1)"}, "redirect_url"),
])
def test_it_refuses_what_cannot_work(admin, change, field):
    error = assert_error(admin.post("/api/v1/connect-links", {**BODY, **change}), "VALIDATION_FAILED")
    assert field in error["details"]["fields"]
    assert not ConnectLink.objects.exists()


@pytest.mark.parametrize("expires_in", [30 * 24 * 3600 + 1, 59])
def test_it_keeps_the_lifetime_within_thirty_days(admin, expires_in):
    assert_error(admin.post("/api/v1/connect-links", {**BODY, "expires_in": expires_in}), "VALIDATION_FAILED")


def test_it_revokes_a_link(admin, client):
    body = admin.post("/api/v1/connect-links", BODY).json()
    response = admin.post(f"/api/v1/connect-links/{body['id']}/revoke")
    assert response.status_code == 200 and response.json()["state"] == "revoked"
    assert client.get(body["url"].replace("http://testserver", "")).status_code == 404
    assert AuditEvent.objects.filter(action="connect_link.revoked", source="api").count() == 1
    admin.post(f"/api/v1/connect-links/{body['id']}/revoke")  # again: unchanged, not audited twice
    assert AuditEvent.objects.filter(action="connect_link.revoked").count() == 1


def test_it_takes_an_admin_key_only(api, anonymous):
    assert_error(api.post("/api/v1/connect-links", BODY), "PERMISSION_DENIED")
    assert_error(anonymous.post("/api/v1/connect-links", BODY), "AUTHENTICATION_FAILED")


def test_it_answers_not_found_for_an_unknown_link(admin):
    assert_error(admin.get("/api/v1/connect-links/6f1c1f53-3b0e-4a47-9d55-0d8f5b1e2a77"), "NOT_FOUND")
