"""How connectors authenticate to upstream systems (docs/architecture.md, "The upstream toolkit").

An `Auth` sets the request's credentials (`apply`) and, after a 401, may get fresh ones once
(`renew`, True = send the request again). Every auth names the secrets it holds (`secrets()`) so
the client can redact them from messages, details and logs. The classes are re-exported by
`connections.connectors.http`, which is where connectors import them from.
"""

import base64
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from connections.connectors.base import UpstreamError

logger = logging.getLogger(__name__)

# A cached OAuth2 token is refreshed this long before it expires, so no request carries one
# that expires on its way.
TOKEN_MARGIN_SECONDS = 60


class Auth:
    """The protocol: subclasses override what they need."""

    def apply(self, request, client) -> None:
        return None

    def renew(self, client) -> bool:
        """Called once after a 401; True when the request should be sent again."""
        return False

    def secrets(self) -> list[str]:
        return []


class BasicAuth(Auth):
    def __init__(self, username: str, password: str):
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._password = password
        self._value = f"Basic {token}"

    def apply(self, request, client) -> None:
        request.headers["Authorization"] = self._value

    def secrets(self) -> list[str]:
        return [self._password, self._value, self._value.split(" ", 1)[1]]


class HeaderKeyAuth(Auth):
    def __init__(self, header: str, value: str):
        self._header, self._value = header, value

    def apply(self, request, client) -> None:
        request.headers[self._header] = self._value

    def secrets(self) -> list[str]:
        return [self._value]


class SessionAuth(Auth):
    """A login session (Tryton). `login(client)` returns the Authorization header value; it is
    called on first use, and again after a 401 or `invalidate()`, so a session that expires
    mid-run is renewed without failing the run. Requests the login sends carry no session."""

    def __init__(self, login: Callable[..., str]):
        self._login = login
        self._value: str | None = None
        self._logging_in = False

    def _session(self, client) -> str | None:
        if self._value is None and not self._logging_in:
            self._logging_in = True
            try:
                self._value = self._login(client)
            finally:
                self._logging_in = False
        return self._value

    def apply(self, request, client) -> None:
        if self._logging_in:
            return
        value = self._session(client)
        if value:
            request.headers["Authorization"] = value

    def renew(self, client) -> bool:
        if self._logging_in:
            return False  # the login itself was refused: its 401 is the answer
        logger.info("upstream session expired; logging in again")
        self._value = None
        return self._session(client) is not None

    def invalidate(self) -> None:
        """The upstream reported the session expired in a 200 body: the next request logs in again."""
        self._value = None

    def secrets(self) -> list[str]:
        return [self._value, self._value.split(" ", 1)[-1]] if self._value else []


class OAuth2ClientCredentials(Auth):
    """OAuth2 client credentials. The access token is cached encrypted on the connection
    (`Connection.upstream_token`), so every worker and run of that connection shares one; it is
    fetched when missing, refreshed TOKEN_MARGIN_SECONDS before it expires, and after a 401 (unless
    another worker has stored a newer one meanwhile). Without a connection id (a check before the
    connection exists) the token lives in this object only."""

    def __init__(self, *, token_url: str, client_id: str, client_secret: str, scope: str = "", connection_id=None):
        self.token_url, self.client_id, self.scope = token_url, client_id, scope
        self._client_secret = client_secret
        self.connection_id = connection_id
        # The cache key: a token fetched for other client credentials is never used.
        self._key = hashlib.sha256(f"{token_url}\n{client_id}\n{scope}\n{client_secret}".encode()).hexdigest()[:32]
        self._token: dict | None = None
        self._fetching = False

    def apply(self, request, client) -> None:
        if self._fetching:
            return
        request.headers["Authorization"] = f"Bearer {self._access_token(client)}"

    def renew(self, client) -> bool:
        if self._fetching:
            return False
        failed = self._token
        stored = self._stored(client)
        if stored and self._fresh(stored) and (failed is None or stored["access_token"] != failed["access_token"]):
            self._token = stored
        else:
            self._token = self._fetch(client)
        return True

    def secrets(self) -> list[str]:
        return [self._client_secret] + ([self._token["access_token"]] if self._token else [])

    def _access_token(self, client) -> str:
        if self._token is None or not self._fresh(self._token):
            stored = self._stored(client)
            self._token = stored if stored and self._fresh(stored) else self._fetch(client)
        return self._token["access_token"]

    @staticmethod
    def _fresh(token: dict) -> bool:
        return token.get("expires_at", 0) - TOKEN_MARGIN_SECONDS > time.time()

    def _connection_id(self, client):
        return self.connection_id or getattr(client, "connection_id", None)

    def _stored(self, client) -> dict | None:
        from connections.models import Connection

        connection_id = self._connection_id(client)
        if connection_id is None:
            return None
        token = Connection.objects.filter(pk=connection_id).values_list("upstream_token", flat=True).first()
        if not token or token.get("key") != self._key or not token.get("access_token"):
            return None
        return token

    def _store(self, client, token: dict) -> None:
        from connections.models import Connection

        connection_id = self._connection_id(client)
        if connection_id is not None:
            Connection.objects.filter(pk=connection_id).update(upstream_token=token)

    def _fetch(self, client) -> dict:
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._client_secret}
        if self.scope:
            form["scope"] = self.scope
        self._fetching = True
        try:
            response = client.exchange("POST", self.token_url, data=form, authenticate=False, raise_for_status=False)
        finally:
            self._fetching = False
        body = _json_or_none(response)
        if response.status_code >= 400 and isinstance(body, dict) and body.get("error"):
            description = str(body.get("error_description") or "").strip()
            message = f"The token endpoint refused the client credentials ({body['error']})"
            raise UpstreamError("UPSTREAM_AUTHENTICATION_FAILED", client.redact(
                f"{message}: {description}" if description else f"{message}."),
                details=client.redact_details({"status": response.status_code, "error": str(body["error"])}))
        if response.status_code in (401, 403):
            raise UpstreamError("UPSTREAM_AUTHENTICATION_FAILED", "The token endpoint refused the client credentials.",
                                details={"status": response.status_code})
        client.raise_for_status(response, resource="the OAuth2 token endpoint")
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE", "The token endpoint answered without an access_token.",
                                details={"status": response.status_code, "body": client.snippet(response)})
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        token = {"access_token": body["access_token"], "expires_at": time.time() + lifetime, "key": self._key,
                 "fetched_at": datetime.now(UTC).isoformat()}
        self._store(client, token)
        logger.info("upstream OAuth2 token fetched for client %s, valid %d s", self.client_id, lifetime)
        return token


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None
