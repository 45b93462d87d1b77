"""Auth lifecycles of the upstream client against a real server on loopback (connections/connectors/auth.py)."""

import base64
import itertools
from datetime import timedelta

import pytest
import time_machine
from django.db import connection as db_connection

from connections.connectors.base import UpstreamError
from connections.connectors.http import BasicAuth, HeaderKeyAuth, OAuth2ClientCredentials, SessionAuth, UpstreamClient
from connections.models import Connection
from tests.connections.factories import ConnectionFactory
from tests.upstreams.server import Reply, ScriptedServer


@pytest.fixture
def upstream():
    with ScriptedServer() as server:
        yield server


def test_it_sends_basic_auth(upstream):
    upstream.route("GET", "/x", Reply(200, {}))
    UpstreamClient(base_url=upstream.url, auth=BasicAuth("comm_user", "pässword")).json("GET", "/x")
    sent = upstream.received[0].headers["Authorization"]
    assert sent == "Basic " + base64.b64encode("comm_user:pässword".encode()).decode()


def test_it_sends_a_header_key(upstream):
    upstream.route("GET", "/x", Reply(200, {}))
    UpstreamClient(base_url=upstream.url, auth=HeaderKeyAuth("X-Api-Key", "k-123")).json("GET", "/x")
    assert upstream.received[0].headers["X-Api-Key"] == "k-123"


class SessionServer:
    """Logs in on POST /login; the session dies after `lifetime` requests (a 401)."""

    def __init__(self, server, *, lifetime=2, password="pw"):
        self.server, self.lifetime, self.password = server, lifetime, password
        self.sessions = itertools.count(1)
        self.current, self.uses = None, 0
        server.route("POST", "/login", self.login)
        server.route("GET", "/data", self.data)

    def login(self, req):
        if req.json()["password"] != self.password:
            return Reply(401, {"error": "bad login"})
        self.current, self.uses = f"Session s{next(self.sessions)}", 0
        return Reply(200, {"session": self.current})

    def data(self, req):
        if req.headers.get("Authorization") != self.current or self.uses >= self.lifetime:
            return Reply(401, {"error": "session expired"})
        self.uses += 1
        return Reply(200, {"session": req.headers["Authorization"]})


def session_login(password="pw"):
    def login(client):
        return client.json("POST", "/login", json={"user": "admin", "password": password})["session"]
    return login


def test_it_logs_in_lazily_and_renews_an_expired_session_once_mid_run(upstream):
    SessionServer(upstream, lifetime=2)
    client = UpstreamClient(base_url=upstream.url, auth=SessionAuth(session_login()))
    assert upstream.received == []
    seen = [client.json("GET", "/data")["session"] for _ in range(5)]
    assert seen == ["Session s1", "Session s1", "Session s2", "Session s2", "Session s3"]
    assert upstream.count("POST", "/login") == 3
    assert "Authorization" not in upstream.received[0].headers  # the login itself carries no session


def test_it_fails_when_the_renewed_session_is_refused_too(upstream):
    fake = SessionServer(upstream, lifetime=0)
    client = UpstreamClient(base_url=upstream.url, auth=SessionAuth(session_login()))
    with pytest.raises(UpstreamError) as info:
        client.json("GET", "/data")
    assert info.value.code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert upstream.count("POST", "/login") == 2 and upstream.count("GET", "/data") == 2
    assert fake.current == "Session s2"


def test_it_fails_on_a_wrong_password_without_looping(upstream):
    SessionServer(upstream, password="right")
    client = UpstreamClient(base_url=upstream.url, auth=SessionAuth(session_login("wrong")), secrets=["wrong"])
    with pytest.raises(UpstreamError) as info:
        client.json("GET", "/data")
    assert info.value.code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert upstream.count("POST", "/login") == 1 and upstream.count("GET", "/data") == 0


def test_it_logs_in_again_after_invalidate(upstream):
    SessionServer(upstream, lifetime=10)
    auth = SessionAuth(session_login())
    client = UpstreamClient(base_url=upstream.url, auth=auth)
    client.json("GET", "/data")
    auth.invalidate()  # what a connector does when a 200 body says the session expired
    assert client.json("GET", "/data")["session"] == "Session s2"


class TokenServer:
    """An OAuth2 token endpoint (client credentials) and an API that accepts only the newest token."""

    def __init__(self, server, *, expires_in=3600):
        self.server, self.expires_in = server, expires_in
        self.tokens = itertools.count(1)
        self.valid = set()
        server.route("POST", "/oauth/token", self.token)
        server.route("GET", "/api", self.api)

    def token(self, req):
        form = req.form()
        if form.get("client_secret") != "cs-secret-value":
            return Reply(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."})
        assert form["grant_type"] == "client_credentials" and form["scope"] == "api://bc/.default"
        token = f"tok-{next(self.tokens)}-abcdefgh"
        self.valid.add(token)
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in})

    def api(self, req):
        token = req.headers.get("Authorization", "").removeprefix("Bearer ")
        return Reply(200, {"token": token}) if token in self.valid else Reply(401, {"error": "invalid_token"})


def oauth_client(server, connection, secret="cs-secret-value"):
    auth = OAuth2ClientCredentials(token_url=f"{server.url}/oauth/token", client_id="cid", client_secret=secret,
                                   scope="api://bc/.default", connection_id=connection.pk)
    return UpstreamClient(base_url=server.url, auth=auth, connection_id=connection.pk)


@pytest.mark.django_db
def test_it_fetches_one_token_for_every_client_of_a_connection_and_stores_it_encrypted(upstream):
    TokenServer(upstream)
    connection = ConnectionFactory()
    assert oauth_client(upstream, connection).json("GET", "/api") == {"token": "tok-1-abcdefgh"}
    assert oauth_client(upstream, connection).json("GET", "/api") == {"token": "tok-1-abcdefgh"}
    assert upstream.count("POST", "/oauth/token") == 1
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT upstream_token FROM connections_connection WHERE id = %s",
                       [Connection._meta.pk.get_db_prep_value(connection.pk, db_connection)])
        raw = cursor.fetchone()[0]
    assert raw.startswith("gAAAA") and "tok-1" not in raw
    stored = Connection.objects.get(pk=connection.pk).upstream_token
    assert stored["access_token"] == "tok-1-abcdefgh"


@pytest.mark.django_db
def test_it_refreshes_the_token_on_a_401(upstream):
    fake = TokenServer(upstream)
    connection = ConnectionFactory()
    client = oauth_client(upstream, connection)
    client.json("GET", "/api")
    fake.valid.clear()  # revoked upstream
    assert client.json("GET", "/api") == {"token": "tok-2-abcdefgh"}
    assert Connection.objects.get(pk=connection.pk).upstream_token["access_token"] == "tok-2-abcdefgh"


@pytest.mark.django_db
def test_it_takes_a_token_another_worker_refreshed_instead_of_fetching_one(upstream):
    fake = TokenServer(upstream)
    connection = ConnectionFactory()
    first, second = oauth_client(upstream, connection), oauth_client(upstream, connection)
    first.json("GET", "/api")
    second.json("GET", "/api")
    fake.valid.clear()
    assert first.json("GET", "/api") == {"token": "tok-2-abcdefgh"}
    assert second.json("GET", "/api") == {"token": "tok-2-abcdefgh"}
    assert upstream.count("POST", "/oauth/token") == 2


@pytest.mark.django_db
def test_it_refreshes_the_token_before_it_expires(upstream):
    TokenServer(upstream, expires_in=600)
    connection = ConnectionFactory()
    client = oauth_client(upstream, connection)
    assert client.json("GET", "/api") == {"token": "tok-1-abcdefgh"}
    with time_machine.travel(timedelta(seconds=545)):  # inside the 60 s margin
        assert client.json("GET", "/api") == {"token": "tok-2-abcdefgh"}
        assert oauth_client(upstream, connection).json("GET", "/api") == {"token": "tok-2-abcdefgh"}
    assert upstream.count("POST", "/oauth/token") == 2


@pytest.mark.django_db
def test_it_reports_the_token_endpoints_error_as_an_authentication_failure(upstream, caplog):
    TokenServer(upstream)
    client = oauth_client(upstream, ConnectionFactory(), secret="wrong-secret-1")
    with pytest.raises(UpstreamError) as info:
        client.json("GET", "/api")
    error = info.value
    assert error.code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert "invalid_client" in error.message and "AADSTS7000215: Invalid client secret." in error.message
    assert "wrong-secret-1" not in f"{error.message} {error.details} {caplog.text}"
    assert upstream.count("GET", "/api") == 0


def test_it_keeps_the_token_in_memory_without_a_connection(upstream):
    TokenServer(upstream)
    auth = OAuth2ClientCredentials(token_url=f"{upstream.url}/oauth/token", client_id="cid",
                                   client_secret="cs-secret-value", scope="api://bc/.default")
    client = UpstreamClient(base_url=upstream.url, auth=auth)
    client.json("GET", "/api")
    client.json("GET", "/api")
    assert upstream.count("POST", "/oauth/token") == 1
