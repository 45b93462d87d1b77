"""Test connection on the page: the per-entity outcome, errors on the fields, with and without htmx."""

import pytest

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
            "Refused by the system: check this value.</div>") in html


def test_it_answers_the_whole_page_without_htmx_and_keeps_no_credential(client):
    _, token = make_link()
    response = client.post(page_path(token, "test"), sandbox_fields(faults='{"auth_failure": true}'))
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert "Refused by the system: check this value." in html and SECRET not in html
    assert 'aria-invalid="true"' in html


def test_it_marks_an_invalid_field_without_asking_the_system(client):
    _, token = make_link()
    response = client.post(page_path(token, "test"), sandbox_fields(page_size="0"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "Some fields need attention" in html
    assert 'id="id_config__page_size_error" hx-swap-oob="true">Ensure this value is greater than' in html
    assert not AuditEvent.objects.filter(action="connect_link.tested").exists()
