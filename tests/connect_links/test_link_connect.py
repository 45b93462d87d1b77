"""Connect on the page: the connection through connection_create, the first sync queued, the link
spent, the connection.created event, and the redirect."""

import pytest

from connections.models import Connection, ConnectLink
from core.errors import CatalogError
from core.models import AuditEvent
from syncs.connect_links import connect_link_connect
from syncs.models import SyncRun
from tests.connect_links.factories import SECRET, make_link, page_path, sandbox_fields
from tests.webhooks.factories import EndpointFactory
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db


def test_it_connects_spends_the_link_queues_the_first_sync_and_redirects(client):
    endpoint = EndpointFactory(event_types=["connection.created"])
    link, token = make_link(redirect_url="https://app.example.com/connected?customer=acme-1")
    response = client.post(page_path(token, "connect"), sandbox_fields())
    assert response.status_code == 302 and response["Location"] == "https://app.example.com/connected?customer=acme-1"
    connection = Connection.objects.get()
    assert (connection.customer_id, connection.connector, connection.status) == (link.customer_id, "sandbox", "active")
    assert set(connection.entities) == {"vendors", "locations"}
    assert connection.credentials == {"api_key": SECRET}
    runs = SyncRun.objects.filter(connection=connection)
    assert {(r.entity, r.mode) for r in runs} == {("vendors", "full"), ("locations", "full")}
    link.refresh_from_db()
    assert link.used_at is not None and link.connection_id == connection.pk
    event = Event.objects.get(type="connection.created")
    assert event.payload["data"]["connect_link_id"] == str(link.pk)
    assert event.payload["data"]["customer"] == {"id": link.customer_id, "name": "Acme Plant", "external_id": "acme-1"}
    assert Delivery.objects.filter(event=event, endpoint=endpoint).exists()
    assert AuditEvent.objects.filter(action="connect_link.connected", connection=connection).exists()
    # Spent: the link now answers the invalid page.
    assert client.get(page_path(token)).status_code == 404


def test_it_shows_the_done_page_without_a_redirect_url(client):
    _, token = make_link()
    response = client.post(page_path(token, "connect"), sandbox_fields(), follow=True)
    assert response.redirect_chain == [("/link/done/", 302)]
    assert "Your system is connected" in response.content.decode()


def test_it_saves_nothing_when_the_system_refuses_the_credentials(client):
    link, token = make_link()
    response = client.post(page_path(token, "connect"), sandbox_fields(faults='{"auth_failure": true}'))
    html = response.content.decode()
    assert response.status_code == 400
    assert "The system rejected these credentials: check this value." in html and SECRET not in html
    assert not Connection.objects.exists() and not Event.objects.exists()
    assert ConnectLink.objects.get(pk=link.pk).used_at is None


def test_it_refuses_a_connector_the_link_does_not_offer(client):
    _, token = make_link(connectors=("sandbox",))
    response = client.post(page_path(token, "connect"), {**sandbox_fields(), "connector": "maximo"})
    assert response.status_code == 404
    assert not Connection.objects.exists()


def test_it_makes_one_connection_when_two_connects_race():
    """The second Connect, its credentials checked while the first committed, finds the link spent."""
    link, _ = make_link()
    connect_link_connect(link=link, connector="sandbox", config={"records": 5}, credentials={"api_key": "k"})
    stale = ConnectLink.objects.get(pk=link.pk)
    stale.used_at = None  # what a request that resolved the link before the first commit holds
    with pytest.raises(CatalogError) as raised:
        connect_link_connect(link=stale, connector="sandbox", config={"records": 5}, credentials={"api_key": "k"})
    assert raised.value.code == "NOT_FOUND"
    assert Connection.objects.count() == 1
