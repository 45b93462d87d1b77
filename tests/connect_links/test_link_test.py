"""Test connection on the page: the per-entity outcome, errors on the fields, with and without htmx."""

import pytest

from connections.connectors.base import UpstreamError
from connections.connectors.sandbox import SandboxConnector
from core.models import AuditEvent
from tests.connect_links.factories import SECRET, make_link, page_path, sandbox_fields

pytestmark = pytest.mark.django_db


def test_it_tests_each_of_the_links_entities_in_place_with_htmx(client):
    link, token = make_link(entities=("vendors", "locations"))
    response = client.post(page_path(token, "test"), sandbox_fields(), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="test-result"') and "<html" not in html
    assert "Connection test passed" in html
    assert 'data-entity="vendors" data-outcome="ok"' in html and 'data-entity="locations" data-outcome="ok"' in html
    assert 'data-entity="purchase_orders"' not in html  # only the link's entities
    # Every field's error text is replaced too (out of band), so none stays from an earlier test.
    assert 'id="id_credentials__api_key_error" hx-swap-oob="true"' in html
    audit = AuditEvent.objects.get(action="connect_link.tested", target_id=str(link.pk))
    assert audit.details == {"connector": "sandbox", "ok": True, "code": "",
                             "entities": {"vendors": "ok", "locations": "ok"}}


def test_it_puts_refused_credentials_on_the_credential_field(client):
    _, token = make_link()
    response = client.post(page_path(token, "test"), sandbox_fields(faults='{"auth_failure": true}'),
                           headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'data-code="UPSTREAM_AUTHENTICATION_FAILED"' in html
    assert ('<div class="error" id="id_credentials__api_key_error" hx-swap-oob="true">'
            "The system rejected these credentials: check this value.</div>") in html


def test_it_answers_the_whole_page_without_htmx_and_keeps_no_credential(client):
    _, token = make_link()
    response = client.post(page_path(token, "test"), sandbox_fields(faults='{"auth_failure": true}'))
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert "The system rejected these credentials: check this value." in html and SECRET not in html
    assert 'aria-invalid="true"' in html


def test_it_marks_an_invalid_field_without_asking_the_system(client):
    _, token = make_link()
    response = client.post(page_path(token, "test"), sandbox_fields(page_size="0"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "Some fields need attention" in html
    assert 'id="id_config__page_size_error" hx-swap-oob="true">Ensure this value is greater than' in html
    assert not AuditEvent.objects.filter(action="connect_link.tested").exists()


def test_it_says_which_entity_the_user_may_not_read(client, monkeypatch):
    def probe(self, entity):
        if entity == "locations":
            raise UpstreamError("UPSTREAM_PERMISSION_DENIED", "No authorization for storage locations.")
        if entity == "vendors":
            raise UpstreamError("UPSTREAM_NOT_FOUND", "API_BUSINESS_PARTNER is not active.")

    monkeypatch.setattr(SandboxConnector, "probe", probe)
    link, token = make_link(entities=("vendors", "locations", "assets"))
    html = client.post(page_path(token, "test"), sandbox_fields(), headers={"HX-Request": "true"}).content.decode()
    assert "2 of 3 kinds of data cannot be read" in html
    assert 'data-entity="locations" data-outcome="no_permission">Locations: no permission</li>' in html
    assert 'data-entity="vendors" data-outcome="not_found">Vendors: not found</li>' in html
    assert 'data-entity="assets" data-outcome="ok">Assets: ok</li>' in html
    assert AuditEvent.objects.get(action="connect_link.tested", target_id=str(link.pk)).details["entities"] == {
        "vendors": "not_found", "locations": "no_permission", "assets": "ok"}
