import pytest

from connections.models import Connection
from connections.services import connection_by_token, connection_token_issue, connection_token_rotate
from core.audit import SYSTEM
from core.tokens import token_hash
from tests.connections.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_it_stores_only_the_hash_and_a_visible_prefix():
    conn = ConnectionFactory()
    token = connection_token_issue(connection=conn)
    conn.refresh_from_db()
    assert token.startswith("ctk_") and len(token) > 40
    assert conn.token_hash == token_hash(token) and token not in conn.token_hash
    assert token.startswith(conn.token_prefix) and len(conn.token_prefix) == 12


def test_it_finds_the_connection_by_its_token_only():
    conn = ConnectionFactory()
    token = connection_token_issue(connection=conn)
    assert connection_by_token(token=token) == conn
    assert connection_by_token(token=token + "x") is None
    assert connection_by_token(token="sk_" + token[4:]) is None


def test_it_invalidates_the_old_token_on_rotation():
    conn = ConnectionFactory()
    old = connection_token_issue(connection=conn)
    new = connection_token_rotate(connection=conn, actor=SYSTEM)
    assert connection_by_token(token=old) is None
    assert connection_by_token(token=new) == conn


def test_it_refuses_the_token_of_a_disconnected_connection():
    conn = ConnectionFactory()
    token = connection_token_issue(connection=conn)
    Connection.objects.filter(pk=conn.pk).update(status=Connection.Status.DISCONNECTED)
    assert connection_by_token(token=token) is None
