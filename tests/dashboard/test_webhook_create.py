"""Add a webhook endpoint: the form, refused URLs inline, the signing secret shown once."""

import pytest

from core.models import AuditEvent
from tests.dashboard.factories import HTMX, connections, idle_connection
from webhooks.models import Endpoint
from webhooks.services import EVENT_TYPES

pytestmark = pytest.mark.django_db

URL = "/webhooks/new"


def test_it_offers_add_endpoint_on_the_list_and_on_a_connection_page(operator_client):
    assert f'href="{URL}"' in operator_client.get("/webhooks/").content.decode()  # empty list
    connection = idle_connection()
    body = operator_client.get(f"/connections/{connection.pk}/").content.decode()
    assert f'href="{URL}?connection={connection.pk}">+ Add endpoint</a>' in body
    assert f'href="{URL}?connection={connection.pk}">Add an endpoint</a>' in body  # the empty state says so too


def test_it_offers_every_event_type_and_the_connections_to_scope_to(operator_client):
    connection = idle_connection(name="Plant ERP")
    body = operator_client.get(URL).content.decode()
    for event_type in EVENT_TYPES:
        assert f'type="checkbox" name="event_types" value="{event_type}"' in body, event_type
    assert '<option value="" selected>All connections</option>' in body
    assert f'<option value="{connection.pk}">Test Customer / Plant ERP</option>' in body


def test_it_preselects_the_connection_it_was_opened_from(operator_client):
    connection = idle_connection()
    body = operator_client.get(URL, {"connection": str(connection.pk)}).content.decode()
    assert f'<option value="{connection.pk}" selected>' in body


def test_it_answers_htmx_with_the_form_region(operator_client):
    body = operator_client.get(URL, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="endpoint-form">') and "<html" not in body
    assert 'hx-post="/webhooks/new" hx-target="#endpoint-form"' in " ".join(body.split())


def test_it_creates_and_shows_the_secret_once_answering_htmx_with_the_endpoint_region(operator_client):
    connection = idle_connection()
    response = operator_client.post(URL, {"url": "https://hooks.example.com/plantsync", "description": "ERP backend",
                                          "event_types": ["sync.failed", "incident.opened"],
                                          "connection": str(connection.pk)}, **HTMX)
    body = response.content.decode()
    endpoint = Endpoint.objects.get()
    assert (endpoint.url, endpoint.description, endpoint.event_types, endpoint.connection_id) == (
        "https://hooks.example.com/plantsync", "ERP backend", ["sync.failed", "incident.opened"], connection.pk)
    assert response.status_code == 200 and body.lstrip().startswith('<div id="endpoint">')
    assert "no-store" in response["Cache-Control"] and response["HX-Push-Url"] == f"/webhooks/{endpoint.pk}/"
    assert endpoint.secret.startswith("whsec_") and f'value="{endpoint.secret}"' in body
    assert 'hx-history="false"' in body  # kept out of htmx's history cache
    assert endpoint.secret not in operator_client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    event = AuditEvent.objects.get(action="webhook_endpoint.created")
    assert (event.actor, event.source, event.connection_id) == ("operator", "dashboard", connection.pk)


def test_it_creates_a_global_endpoint_for_every_event_without_javascript(operator_client):
    response = operator_client.post(URL, {"url": "https://hooks.example.com/all", "connection": ""})
    body = response.content.decode()
    endpoint = Endpoint.objects.get()
    assert (endpoint.connection_id, endpoint.event_types) == (None, [])
    assert response.status_code == 200 and "<html" in body and "no-store" in response["Cache-Control"]
    assert endpoint.secret in body and "Endpoint added." in body


@pytest.mark.parametrize(("url", "reason"), [
    ("http://hooks.example.com/plantsync", "Plain http:// is refused"),
    ("https://10.1.2.3/hook", "10.1.2.3 is a private address"),
    ("https://169.254.169.254/latest/meta-data", "a cloud metadata address"),
])
def test_it_shows_the_catalogued_error_of_a_refused_url_inline(operator_client, url, reason):
    response = operator_client.post(URL, {"url": url, "description": "kept"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="endpoint-form">')
    assert "VALIDATION_FAILED" in body and reason in body
    assert "What to do: Correct the fields" in body  # the catalogue's action
    assert response.context["form"].errors["url"] and 'value="kept"' in body
    assert not Endpoint.objects.exists() and not AuditEvent.objects.filter(action="webhook_endpoint.created").exists()


def test_it_answers_a_refused_plain_post_with_the_whole_form_page(operator_client):
    response = operator_client.post(URL, {"url": "http://hooks.example.com/x"})
    body = response.content.decode()
    assert response.status_code == 400 and "<html" in body and "Plain http:// is refused" in body


def test_it_asks_for_a_connection_id_when_there_are_too_many_to_list(operator_client):
    connections(301)
    scoped = connections(1)[0]
    assert 'placeholder="Connection id' in operator_client.get(URL).content.decode()
    response = operator_client.post(URL, {"url": "https://hooks.example.com/x",
                                          "connection": "00000000-0000-0000-0000-000000000000"}, **HTMX)
    assert response.context["form"].errors == {"connection": ["No connection has this id."]}
    operator_client.post(URL, {"url": "https://hooks.example.com/x", "connection": str(scoped.pk)}, **HTMX)
    assert Endpoint.objects.get().connection_id == scoped.pk


def test_it_hides_the_button_and_refuses_read_only_users(viewer_client):
    connection = idle_connection()
    assert URL not in viewer_client.get("/webhooks/").content.decode()
    assert URL not in viewer_client.get(f"/connections/{connection.pk}/").content.decode()
    assert viewer_client.get(URL).status_code == 403
    assert viewer_client.post(URL, {"url": "https://hooks.example.com/x"}).status_code == 403
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(operator_client, django_assert_max_num_queries, rows):
    scoped = connections(rows, customers=3)[0]
    with django_assert_max_num_queries(6):
        response = operator_client.get(URL, {"connection": str(scoped.pk)})
    assert len(response.context["form"].fields["connection"].widget.choices) == rows + 1
