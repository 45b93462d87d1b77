"""The dashboard's connect links: Send a connect link (URL shown once), the list, Revoke."""

import pytest

from connections.models import ConnectLink, Customer
from core.models import AuditEvent
from core.tokens import token_hash
from tests.connect_links.factories import make_link
from tests.syncs.factories import sandbox_connection

pytestmark = pytest.mark.django_db


def test_it_creates_a_link_and_shows_its_url_once(operator_client):
    response = operator_client.post("/connect-links/new", {
        "customer_name": "Acme Plant", "customer_external_id": "acme-1", "connectors": ["sandbox", "maximo"],
        "entities": ["vendors"], "redirect_url": "https://app.example.com/done", "expires_in_days": "3"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    link = ConnectLink.objects.get()
    url = response.context["url"]
    assert url.startswith("http://testserver/link/clk_") and url in response.content.decode()
    assert link.token_hash == token_hash(url.rsplit("/link/", 1)[1].rstrip("/"))
    assert (link.connectors, link.entities, link.created_by) == (["sandbox", "maximo"], ["vendors"], "operator")
    assert 'data-copy="#connect-link-url"' in response.content.decode()
    assert AuditEvent.objects.filter(action="connect_link.created", source="dashboard").exists()
    # The list shows it, by its prefix only.
    listing = operator_client.get("/connect-links/").content.decode()
    assert link.token_prefix in listing and url not in listing


def test_it_starts_the_form_with_the_customer_it_was_opened_for(operator_client):
    customer = sandbox_connection(name="Plant").customer
    Customer.objects.filter(pk=customer.pk).update(external_id="ext-9")
    form = operator_client.get(f"/connect-links/new?customer={customer.pk}").content.decode()
    assert f'value="{customer.name}"' in form and 'value="ext-9"' in form
    assert f"/connect-links/new?customer={customer.pk}" in operator_client.get(
        f"/connections/?customer={customer.pk}").content.decode()


def test_it_refuses_an_entity_the_system_does_not_have(operator_client):
    response = operator_client.post("/connect-links/new", {
        "customer_name": "Acme", "connectors": ["sap_s4hana"], "entities": ["inventory_items"], "expires_in_days": "7"})
    assert response.status_code == 400 and not ConnectLink.objects.exists()
    assert response.context["form"].errors["entities"]


def test_it_revokes_with_htmx_in_place(operator_client):
    link, _ = make_link()
    response = operator_client.post(f"/connect-links/{link.pk}/revoke", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div id="links">')
    assert "Revoked the link" in html and '<td class="link-state">revoked</td>' in html
    assert ConnectLink.objects.get().revoked_at is not None


def test_it_revokes_without_htmx_and_redirects(operator_client):
    link, _ = make_link()
    response = operator_client.post(f"/connect-links/{link.pk}/revoke")
    assert response.status_code == 302 and response["Location"] == "/connect-links/"
    assert ConnectLink.objects.get().revoked_at is not None


def test_it_lets_a_viewer_see_links_but_not_create_or_revoke_them(viewer_client):
    link, _ = make_link()
    assert viewer_client.get("/connect-links/").status_code == 200
    assert viewer_client.get("/connect-links/new").status_code == 403
    assert viewer_client.post(f"/connect-links/{link.pk}/revoke").status_code == 403
    assert ConnectLink.objects.get().revoked_at is None
