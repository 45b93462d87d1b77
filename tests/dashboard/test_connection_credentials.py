"""Reauthorize / update credentials on a connection's page: checked upstream before they replace
the stored ones, good ones lift auth_failed, a refusal shows its catalogued error inline."""

import pytest

from connections.models import Connection
from core.models import AuditEvent
from tests.dashboard.factories import HTMX, idle_connection, runs

pytestmark = pytest.mark.django_db


def url(connection) -> str:
    return f"/connections/{connection.pk}/credentials"


def auth_failed(*, fault: bool = False, **kwargs) -> Connection:
    """A connection the upstream refused; with `fault` the sandbox keeps refusing every key."""
    connection = idle_connection(**kwargs)
    config = {**connection.config, "faults": {"auth_failure": True}} if fault else connection.config
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.AUTH_FAILED, config=config,
        status_reason="The sandbox rejected the API key (401 Unauthorized).")
    connection.refresh_from_db()
    return connection


def test_it_makes_reauthorize_the_first_thing_on_an_auth_failed_connection(operator_client):
    body = operator_client.get(f"/connections/{auth_failed().pk}/").content.decode()
    card = body[body.index('id="reauthorize"'):body.index("</section>", body.index('id="reauthorize"'))]
    assert "Reauthorization required" in card and "401 Unauthorized" in card  # the status reason says why
    assert 'name="credentials__api_key"' in card and ">Reauthorize</button>" in card
    assert body.index('id="reauthorize"') < body.index("<h2>Details</h2>")
    assert 'id="credentials"' not in body  # not a second, collapsed copy of the form


def test_it_offers_a_collapsed_update_form_on_a_healthy_connection(operator_client):
    body = operator_client.get(f"/connections/{idle_connection().pk}/").content.decode()
    assert '<details id="credentials" >' in body and "Update credentials" in body
    assert 'id="reauthorize"' not in body and ">Check and save credentials</button>" in body


def test_it_never_prefills_the_stored_credentials(operator_client):
    connection = auth_failed(credentials={"api_key": "stored-secret-key"})
    body = operator_client.get(f"/connections/{connection.pk}/").content.decode()
    assert "stored-secret-key" not in body
    field = body[body.index('name="credentials__api_key"'):]
    assert 'type="password"' in body and "value=" not in field[:field.index(">")]


def test_it_reauthorizes_lifts_auth_failed_and_answers_htmx_with_the_page_region(operator_client):
    connection = auth_failed()
    response = operator_client.post(url(connection), {"credentials__api_key": "new-key"}, **HTMX)
    body = response.content.decode()
    connection.refresh_from_db()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="connection">')
    assert connection.status == Connection.Status.ACTIVE and connection.status_reason == "credentials updated"
    assert connection.credentials == {"api_key": "new-key"}
    assert "New credentials verified and saved." in body and "active again" in body
    assert "badge status-active" in body and 'id="reauthorize"' not in body and "new-key" not in body
    event = AuditEvent.objects.get(action="connection.updated")
    assert (event.actor, event.source) == ("operator", "dashboard") and event.details["credentials"] == "changed"


def test_it_shows_the_catalogued_error_inline_and_keeps_the_old_credentials(operator_client):
    connection = auth_failed(fault=True, credentials={"api_key": "old-key"})
    response = operator_client.post(url(connection), {"credentials__api_key": "typed-secret"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="connection">')
    card = body[body.index('id="reauthorize"'):body.index("</section>", body.index('id="reauthorize"'))]
    assert "UPSTREAM_AUTHENTICATION_FAILED" in card and "injected auth failure" in card
    assert "What to do: Reauthorize the connection with valid credentials." in card  # the catalogue's action
    assert "typed-secret" not in body  # never echoed back
    connection.refresh_from_db()
    assert connection.status == Connection.Status.AUTH_FAILED and connection.credentials == {"api_key": "old-key"}
    rejected = AuditEvent.objects.get(action="connection.credentials_rejected")
    assert (rejected.actor, rejected.details) == ("operator", {"code": "UPSTREAM_AUTHENTICATION_FAILED"})
    assert not AuditEvent.objects.filter(action="connection.updated").exists()


def test_it_opens_the_update_form_with_the_error_on_a_healthy_connection(operator_client):
    connection = idle_connection()
    Connection.objects.filter(pk=connection.pk).update(config={**connection.config, "faults": {"unreachable": True}})
    body = operator_client.post(url(connection), {"credentials__api_key": "k2"}, **HTMX).content.decode()
    assert '<details id="credentials" open>' in body
    assert "UPSTREAM_UNREACHABLE" in body and "Check the instance URL" in body


def test_it_puts_a_missing_field_on_the_field(operator_client):
    connection = auth_failed()
    response = operator_client.post(url(connection), {"credentials__api_key": ""}, **HTMX)
    assert response.context["credentials_form"].errors == {"credentials__api_key": ["This field is required."]}
    assert "VALIDATION_FAILED" in response.content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.AUTH_FAILED


def test_it_redirects_after_a_plain_post(operator_client):
    connection = auth_failed()
    response = operator_client.post(url(connection), {"credentials__api_key": "new-key"}, follow=True)
    assert response.redirect_chain == [(f"/connections/{connection.pk}/", 302)]
    assert "New credentials verified and saved." in response.content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


def test_it_answers_a_refused_plain_post_with_the_whole_page(operator_client):
    connection = auth_failed(fault=True)
    response = operator_client.post(url(connection), {"credentials__api_key": "typed-secret"})
    body = response.content.decode()
    assert response.status_code == 400 and "<html" in body
    assert "UPSTREAM_AUTHENTICATION_FAILED" in body and "typed-secret" not in body


def test_it_hides_the_form_and_refuses_read_only_users(viewer_client):
    connection = auth_failed(credentials={"api_key": "old-key"})
    body = viewer_client.get(f"/connections/{connection.pk}/").content.decode()
    assert "Reauthorization required" in body  # they see the problem ...
    assert 'name="credentials__api_key"' not in body and "Update credentials" not in body  # ... not the form
    assert viewer_client.post(url(connection), {"credentials__api_key": "new-key"}).status_code == 403
    connection.refresh_from_db()
    assert connection.credentials == {"api_key": "old-key"} and connection.status == Connection.Status.AUTH_FAILED


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_the_refused_form_in_a_bounded_number_of_queries(operator_client,
                                                                    django_assert_max_num_queries, rows):
    connection = auth_failed(fault=True)
    runs(connection, rows, status="failed", error_code="UPSTREAM_AUTHENTICATION_FAILED")
    with django_assert_max_num_queries(17):
        response = operator_client.post(url(connection), {"credentials__api_key": "k"}, **HTMX)
    assert "UPSTREAM_AUTHENTICATION_FAILED" in response.content.decode()
    assert len(response.context["live"].recent_runs) == min(rows + 6, 15)
