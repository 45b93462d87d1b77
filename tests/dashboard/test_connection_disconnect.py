"""Disconnect: a confirmation page (works without JavaScript), then the service."""

import pytest

from connections.models import Connection
from connections.services import connection_by_token
from core.models import AuditEvent
from syncs.models import SyncRun
from tests.dashboard.factories import HTMX, idle_connection, runs
from tests.syncs.factories import sandbox_connection
from tests.webhooks.factories import EndpointFactory

pytestmark = pytest.mark.django_db


def url(connection) -> str:
    return f"/connections/{connection.pk}/disconnect"


def test_it_links_to_the_confirmation_from_the_connection_page(operator_client):
    connection = idle_connection()
    body = operator_client.get(f"/connections/{connection.pk}/").content.decode()
    assert f'href="{url(connection)}">Disconnect…</a>' in body


def test_it_says_what_stops_and_what_is_kept_before_anything_happens(operator_client):
    connection = sandbox_connection(entities=["vendors", "assets"])  # two queued runs
    EndpointFactory(connection=connection)
    response = operator_client.get(url(connection))
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body
    assert connection.token_prefix in body and "stops working at once" in body
    assert "the 2 queued or running runs are cancelled" in body
    assert "1 webhook endpoint scoped to this connection" in body and "cannot be undone" in body
    assert f'action="{url(connection)}"' in body and ">Keep it connected</a>" in body
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE and not AuditEvent.objects.filter(
        action="connection.disconnected").exists()


def test_it_answers_htmx_with_the_confirmation_region(operator_client):
    body = operator_client.get(url(idle_connection()), **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="confirm">') and "<html" not in body


def test_it_disconnects_and_tells_htmx_to_load_the_connection_page(operator_client):
    connection = sandbox_connection()
    token_prefix = connection.token_prefix
    response = operator_client.post(url(connection), **HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == f"/connections/{connection.pk}/"
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISCONNECTED and connection.token_hash is None
    assert not SyncRun.objects.filter(connection=connection, status=SyncRun.Status.QUEUED).exists()
    page = operator_client.get(f"/connections/{connection.pk}/").content.decode()
    assert "Disconnected: the API token is revoked" in page  # the message, on the page htmx loads
    assert "badge status-disconnected" in page and "connect it</a> as a new connection" in page
    for label in ("Disconnect…", "Sync now", "Rotate token", "Update credentials", "+ Add endpoint"):
        assert label not in page, label
    assert token_prefix not in page.split("API token</dt>")[1][:80]  # shown as revoked
    event = AuditEvent.objects.get(action="connection.disconnected")
    assert (event.actor, event.source) == ("operator", "dashboard")


def test_it_redirects_after_a_plain_post(operator_client):
    connection = idle_connection()
    response = operator_client.post(url(connection), follow=True)
    assert response.redirect_chain == [(f"/connections/{connection.pk}/", 302)]
    assert "Disconnected: the API token is revoked" in response.content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISCONNECTED


def test_it_revokes_the_token(operator_client):
    connection = idle_connection()
    token = operator_client.post(f"/connections/{connection.pk}/rotate-token").content.decode()
    token = token[token.index('value="ctk_') + 7:]
    token = token[:token.index('"')]
    assert connection_by_token(token=token) is not None
    operator_client.post(url(connection))
    assert connection_by_token(token=token) is None


def test_it_does_not_disconnect_twice(operator_client):
    connection = idle_connection()
    operator_client.post(url(connection))
    connection.refresh_from_db()
    first = connection.disconnected_at
    response = operator_client.post(url(connection), follow=True)
    assert "Already disconnected." in response.content.decode()
    connection.refresh_from_db()
    assert connection.disconnected_at == first
    assert AuditEvent.objects.filter(action="connection.disconnected").count() == 1
    assert "already disconnected" in operator_client.get(url(connection)).content.decode()


def test_it_hides_the_button_and_refuses_read_only_users(viewer_client):
    connection = idle_connection()
    assert "Disconnect…" not in viewer_client.get(f"/connections/{connection.pk}/").content.decode()
    assert viewer_client.get(url(connection)).status_code == 403
    assert viewer_client.post(url(connection)).status_code == 403
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert not AuditEvent.objects.filter(action="connection.disconnected").exists()


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(operator_client, django_assert_max_num_queries, rows):
    connection = idle_connection()  # six entities, 20 records each
    runs(connection, rows, status="failed", error_code="UPSTREAM_SERVER_ERROR")
    EndpointFactory.create_batch(rows, connection=connection)
    with django_assert_max_num_queries(8):
        response = operator_client.get(url(connection))
    assert response.context["impact"] == {"active_runs": 0, "records": 120, "endpoints": rows}
