"""The page at a connect link (dashboard/views/connect_link_public.py), with and without htmx."""

import pytest

from core.models import AuditEvent
from tests.connect_links.factories import make_link, page_path

pytestmark = pytest.mark.django_db


def test_it_shows_the_company_the_customer_and_the_only_connectors_form(client, settings):
    settings.PLANTSYNC_COMPANY_NAME = "Northwind Integrations"
    link, token = make_link()
    response = client.get(page_path(token))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Northwind Integrations" in body and "Acme Plant" in body
    assert 'name="credentials__api_key"' in body and 'type="password"' in body
    assert 'aria-describedby="id_credentials__api_key_error' in body
    assert '<label for="id_credentials__api_key">' in body
    assert AuditEvent.objects.filter(action="connect_link.opened", target_id=str(link.pk)).count() == 1


def test_it_offers_only_the_links_connectors_and_swaps_in_the_chosen_form(client):
    _, token = make_link(connectors=("sandbox", "tryton"), entities=())
    page = client.get(page_path(token)).content.decode()
    assert "?connector=sandbox" in page and "?connector=tryton" in page and "?connector=maximo" not in page
    assert 'name="credentials__api_key"' not in page  # nothing chosen yet
    fragment = client.get(page_path(token), {"connector": "sandbox"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert html.lstrip().startswith('<section id="connector-form"') and "<html" not in html
    assert 'name="credentials__api_key"' in html
    # A connector the link does not offer is not shown, even asked for by name.
    other = client.get(page_path(token), {"connector": "maximo"}).content.decode()
    assert 'name="credentials__username"' not in other


def test_it_shows_a_connectors_setup_steps_as_escaped_html(client):
    _, token = make_link(connectors=("sap_s4hana",), entities=("vendors",))
    body = client.get(page_path(token)).content.decode()
    assert "How to set up SAP S/4HANA" in body
    assert "<code>SAP_COM_0053</code>" in body and "<ol>" in body


def test_it_sends_its_own_security_headers(client, settings):
    _, token = make_link(redirect_url="https://app.example.com/connected")
    response = client.get(page_path(token))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp and response["X-Frame-Options"] == "DENY"
    assert "form-action 'self' https://app.example.com" in csp
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "same-origin"


def test_it_lets_the_configured_origins_frame_the_page(client, settings):
    settings.CONNECT_LINK_FRAME_ANCESTORS = ["https://app.example.com"]
    _, token = make_link()
    response = client.get(page_path(token))
    assert "frame-ancestors https://app.example.com" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response


def test_it_needs_no_staff_login_and_shows_no_staff_navigation(client):
    _, token = make_link()
    body = client.get(page_path(token)).content.decode()
    assert "Log out" not in body and "/connections/" not in body
