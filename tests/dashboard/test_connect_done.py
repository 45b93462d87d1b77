"""The page a saved connect form redirects to: the new connection's API token, shown once."""

import pytest
from django.test import Client

from connections.models import Connection
from connections.services import connection_by_token
from tests.dashboard.test_connect import FORM

pytestmark = pytest.mark.django_db


def save(client) -> tuple[Connection, str]:
    response = client.post("/connect/sandbox/", FORM)
    assert response.status_code == 303
    return Connection.objects.get(), response["Location"]


def token_on(body: str) -> str:
    start = body.index('value="ctk_') + len('value="')
    return body[start:body.index('"', start)]


def test_it_shows_the_token_once_with_a_copy_button(operator_client):
    connection, url = save(operator_client)
    response = operator_client.get(url)
    body = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert connection_by_token(token=token_on(body)).pk == connection.pk
    assert 'data-copy="#connection-token"' in body and 'id="connection-token"' in body
    assert "js/copy-button.js" in body


def test_a_refresh_says_the_token_can_no_longer_be_shown(operator_client):
    connection, url = save(operator_client)
    token = token_on(operator_client.get(url).content.decode())
    again = operator_client.get(url)
    body = again.content.decode()
    assert again.status_code == 200 and token not in body and "ctk_" not in body
    assert "can no longer be shown" in body and "rotate it" in body
    assert Connection.objects.count() == 1  # nothing was submitted again
    assert token not in operator_client.get(f"/connections/{connection.pk}/").content.decode()


def test_another_session_never_sees_the_token(operator_client, operator):
    _, url = save(operator_client)
    other = Client()
    other.force_login(operator)  # the same person in another browser: a session of its own
    assert "ctk_" not in other.get(url).content.decode()
    assert "ctk_" in operator_client.get(url).content.decode()  # still there for the session that saved


def test_it_answers_get_only(operator_client):
    _, url = save(operator_client)
    assert operator_client.post(url).status_code == 405


def test_it_answers_404_for_an_unknown_connection(operator_client):
    assert operator_client.get("/connections/00000000-0000-0000-0000-000000000000/connected").status_code == 404


def test_it_needs_the_view_permission(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", "s@example.com", "pw", is_staff=True))
    assert client.get("/connections/00000000-0000-0000-0000-000000000000/connected").status_code == 403
