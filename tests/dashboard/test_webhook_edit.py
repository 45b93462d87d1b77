"""Edit a webhook endpoint: URL, description, event types and scope; the secret stays."""

import pytest

from core.models import AuditEvent
from tests.dashboard.factories import HTMX, connections, idle_connection
from tests.webhooks.factories import EndpointFactory

pytestmark = pytest.mark.django_db


def url(endpoint) -> str:
    return f"/webhooks/{endpoint.pk}/edit"


def test_it_links_to_the_form_from_the_endpoint_page(operator_client):
    endpoint = EndpointFactory()
    assert f'href="{url(endpoint)}">Edit</a>' in operator_client.get(f"/webhooks/{endpoint.pk}/").content.decode()


def test_it_fills_the_form_with_the_endpoint_but_never_its_secret(operator_client):
    connection = idle_connection()
    endpoint = EndpointFactory(url="https://hooks.example.com/erp", description="ERP backend", connection=connection,
                               event_types=["sync.failed"], secret="whsec_do-not-show")
    body = operator_client.get(url(endpoint)).content.decode()
    assert 'value="https://hooks.example.com/erp"' in body and 'value="ERP backend"' in body
    assert 'value="sync.failed" id="id_event_types_1" checked' in body
    assert f'<option value="{connection.pk}" selected>' in body
    assert "whsec_do-not-show" not in body


def test_it_answers_htmx_with_the_form_region(operator_client):
    body = operator_client.get(url(EndpointFactory()), **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="endpoint-form">') and "<html" not in body and "Save endpoint" in body


def test_it_saves_and_answers_htmx_with_the_endpoint_region(operator_client):
    endpoint = EndpointFactory(event_types=["sync.failed"])
    secret = endpoint.secret
    connection = idle_connection()
    response = operator_client.post(url(endpoint), {
        "url": "https://new.example.com/hook", "description": "moved", "event_types": ["sync.completed", "sync.failed"],
        "connection": str(connection.pk)}, **HTMX)
    body = response.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.event_types, endpoint.connection_id) == (
        "https://new.example.com/hook", "moved", ["sync.completed", "sync.failed"], connection.pk)
    assert endpoint.secret == secret
    assert body.lstrip().startswith('<div id="endpoint">') and "Endpoint saved." in body
    assert response["HX-Push-Url"] == f"/webhooks/{endpoint.pk}/"
    event = AuditEvent.objects.get(action="webhook_endpoint.updated")
    assert event.actor == "operator" and set(event.details) == {"url", "description", "event_types", "connection"}


def test_it_makes_an_endpoint_global_and_redirects_after_a_plain_post(operator_client):
    endpoint = EndpointFactory(connection=idle_connection(), event_types=["sync.failed"])
    response = operator_client.post(url(endpoint), {"url": endpoint.url, "connection": ""}, follow=True)
    assert response.redirect_chain == [(f"/webhooks/{endpoint.pk}/", 302)]
    assert "Endpoint saved." in response.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.connection_id, endpoint.event_types, endpoint.description) == (None, [], "")


def test_it_shows_a_refused_url_inline_and_changes_nothing(operator_client):
    endpoint = EndpointFactory(url="https://hooks.example.com/ok")
    response = operator_client.post(url(endpoint), {"url": "https://127.0.0.1/hook"}, **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="endpoint-form">')
    assert "VALIDATION_FAILED" in body and "127.0.0.1 is a loopback address" in body
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/ok"
    assert not AuditEvent.objects.filter(action="webhook_endpoint.updated").exists()
    plain = operator_client.post(url(endpoint), {"url": "http://hooks.example.com/ok"})
    assert plain.status_code == 400 and "<html" in plain.content.decode()


def test_it_hides_the_button_and_refuses_read_only_users(viewer_client):
    endpoint = EndpointFactory(url="https://hooks.example.com/ok")
    assert url(endpoint) not in viewer_client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert viewer_client.get(url(endpoint)).status_code == 403
    assert viewer_client.post(url(endpoint), {"url": "https://evil.example.com/"}).status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/ok"


def test_it_answers_404_for_an_unknown_endpoint(operator_client):
    assert operator_client.get("/webhooks/999999/edit").status_code == 404


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(operator_client, django_assert_max_num_queries, rows):
    conns = connections(rows, customers=3)
    endpoint = EndpointFactory(connection=conns[-1])
    with django_assert_max_num_queries(7):
        response = operator_client.get(url(endpoint))
    assert response.status_code == 200 and len(response.context["form"].fields["connection"].widget.choices) == rows + 1
