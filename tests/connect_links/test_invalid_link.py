"""A used, expired, revoked or wrong token: the same plain page, same status, same body."""

from datetime import timedelta

import pytest
import time_machine

from connections.connect_links import connect_link_revoke
from connections.models import Connection
from core.models import AuditEvent
from syncs.connect_links import connect_link_connect
from tests.connect_links.factories import make_link, page_path
from tests.syncs.factories import TEST_ACTOR

pytestmark = pytest.mark.django_db


@pytest.fixture
def invalid_page(client):
    """The answer to a token that never existed: what every refused token must look like."""
    response = client.get(page_path("clk_" + "x" * 43))
    assert response.status_code == 404
    assert "This link is no longer valid" in response.content.decode()
    return response.status_code, response.content


def answer(client, token):
    response = client.get(page_path(token))
    return response.status_code, response.content


def test_it_shows_the_invalid_page_for_a_wrong_token(client, invalid_page):
    assert answer(client, "not-even-a-token") == invalid_page
    _, token = make_link()
    assert answer(client, token[:-2] + "xx") == invalid_page


def test_it_shows_the_invalid_page_for_a_used_link(client, invalid_page):
    link, token = make_link()
    connect_link_connect(link=link, connector="sandbox", config={"records": 5}, credentials={"api_key": "k"})
    assert Connection.objects.filter(connect_links=link).exists()
    assert answer(client, token) == invalid_page
    assert AuditEvent.objects.filter(action="connect_link.refused_used", target_id=str(link.pk)).exists()


def test_it_shows_the_invalid_page_for_an_expired_link(client, invalid_page, fixed_now):
    link, token = make_link(expires_in=3600)
    assert client.get(page_path(token)).status_code == 200
    with time_machine.travel(fixed_now + timedelta(hours=1, seconds=1)):
        assert answer(client, token) == invalid_page
    assert AuditEvent.objects.filter(action="connect_link.refused_expired", target_id=str(link.pk)).exists()


def test_it_shows_the_invalid_page_for_a_revoked_link(client, invalid_page):
    link, token = make_link()
    connect_link_revoke(link=link, actor=TEST_ACTOR)
    assert answer(client, token) == invalid_page
    assert AuditEvent.objects.filter(action="connect_link.revoked", target_id=str(link.pk)).exists()


def test_it_refuses_test_and_connect_posts_of_an_invalid_link_the_same_way(client, invalid_page):
    link, token = make_link()
    connect_link_revoke(link=link, actor=TEST_ACTOR)
    for suffix in ("test", "connect"):
        response = client.post(page_path(token, suffix), {"connector": "sandbox"})
        assert (response.status_code, response.content) == invalid_page
