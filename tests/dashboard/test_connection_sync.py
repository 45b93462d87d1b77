import pytest

from connections.models import Connection
from core.models import AuditEvent
from syncs.models import SyncRun
from tests.dashboard.factories import HTMX, idle_connection

pytestmark = pytest.mark.django_db


def url(connection) -> str:
    return f"/connections/{connection.pk}/sync"


def test_it_queues_one_entity_and_answers_htmx_with_the_table(operator_client):
    connection = idle_connection()
    response = operator_client.post(url(connection), {"entity": "vendors", "mode": "incremental"}, **HTMX)
    body = response.content.decode()
    run = SyncRun.objects.get(connection=connection, status="queued")
    assert (run.entity, run.mode, run.trigger, run.requested_by) == ("vendors", "incremental", "dashboard", "operator")
    assert body.lstrip().startswith('<section id="live"')
    assert "Sync queued for vendors." in body
    assert 'hx-trigger="every 2s"' in body  # polling starts with the new run


def test_it_queues_a_full_resync_of_every_entity(operator_client):
    connection = idle_connection()
    operator_client.post(url(connection), {"mode": "full"}, **HTMX)
    queued = SyncRun.objects.filter(connection=connection, status="queued")
    assert sorted(queued.values_list("entity", flat=True)) == sorted(connection.entities)
    assert set(queued.values_list("mode", flat=True)) == {"full"}


def test_it_redirects_after_a_plain_post_with_a_message(operator_client):
    connection = idle_connection()
    response = operator_client.post(url(connection), {"entity": "assets", "mode": "full", "confirmed": "yes"},
                                    follow=True)
    assert response.redirect_chain == [(f"/connections/{connection.pk}/", 302)]
    assert "Full re-sync queued for assets." in response.content.decode()


@pytest.mark.parametrize("entity", ["assets", ""])
def test_it_asks_on_a_page_before_a_full_resync_without_javascript(operator_client, entity):
    connection = idle_connection()
    before = SyncRun.objects.count()
    response = operator_client.post(url(connection), {"entity": entity, "mode": "full"})
    body = response.content.decode()
    assert response.status_code == 200 and SyncRun.objects.count() == before  # asked, nothing queued
    assert "Full re-sync of " + ("assets?" if entity else "every entity?") in body
    assert 'name="confirmed" value="yes"' in body and "hx-confirm" not in body
    assert ('name="entity" value="assets"' in body) is bool(entity)


def test_a_plain_sync_now_does_not_ask(operator_client):
    connection = idle_connection()
    response = operator_client.post(url(connection), {"entity": "assets", "mode": "incremental"})
    assert response.status_code == 302 and SyncRun.objects.filter(mode="incremental", status="queued").count() == 1


def test_it_records_who_did_it_with_the_request_id(operator_client):
    connection = idle_connection()
    response = operator_client.post(url(connection), {"entity": "vendors"}, **HTMX)
    event = AuditEvent.objects.get(action="sync.incremental_requested")
    assert (event.actor, event.source, event.connection_id) == ("operator", "dashboard", connection.pk)
    assert event.request_id == response["X-Request-ID"]
    assert SyncRun.objects.get(connection=connection, status="queued").request_id == event.request_id


def test_it_says_when_the_active_run_already_covers_it(operator_client):
    connection = idle_connection()
    operator_client.post(url(connection), {"entity": "vendors"}, **HTMX)
    body = operator_client.post(url(connection), {"entity": "vendors"}, **HTMX).content.decode()
    assert "Already running: vendors" in body
    assert SyncRun.objects.filter(connection=connection, status="queued").count() == 1


def test_it_shows_the_catalogued_error_for_a_full_resync_over_an_incremental_run(operator_client):
    connection = idle_connection()
    operator_client.post(url(connection), {"entity": "vendors"}, **HTMX)
    body = operator_client.post(url(connection), {"entity": "vendors", "mode": "full"}, **HTMX).content.decode()
    assert "SYNC_IN_PROGRESS" in body
    assert "Wait for the active run to finish, or cancel it" in body  # the catalogue's action hint


def test_it_refuses_a_paused_connection_with_the_catalogued_error(operator_client):
    connection = idle_connection()
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.PAUSED)
    response = operator_client.post(url(connection), {}, follow=True)
    body = response.content.decode()
    assert "CONNECTION_NOT_ACTIVE" in body and "Resume the connection first." in body
    assert not SyncRun.objects.filter(connection=connection, status="queued").exists()


def test_it_refuses_read_only_users(viewer_client):
    connection = idle_connection()
    assert viewer_client.post(url(connection), {"entity": "vendors"}, **HTMX).status_code == 403
    assert viewer_client.post(url(connection), {"entity": "vendors"}).status_code == 403
    assert not SyncRun.objects.filter(connection=connection, status="queued").exists()


def test_it_accepts_only_post(operator_client):
    assert operator_client.get(url(idle_connection())).status_code == 405


def test_it_sends_anonymous_htmx_requests_to_the_login_page(client):
    response = client.post(url(idle_connection()), {}, **HTMX)
    assert response["HX-Redirect"].startswith("/login/")
