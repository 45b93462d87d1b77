"""API v1 authentication and per-token rate limiting (docs/api.md).

`Authorization: Bearer <token>` with either a connection token (`ctk_...`, one connection) or
an admin key (`sk_...`, everything across customers). Each route group says which kind it
takes: an unknown or revoked token is 401 AUTHENTICATION_FAILED, a valid token of the other
kind is 403 PERMISSION_DENIED (no resource id is looked at, so nothing leaks).

Every authenticated request counts against its token's budget of API_RATE_LIMIT requests per
minute (core/api_ratelimit.py), reported in `RateLimit-Policy` / `RateLimit` headers (IETF
draft httpapi-ratelimit-headers) and answered 429 RATE_LIMIT_EXCEEDED with Retry-After once spent.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.module_loading import import_string
from ninja.security import HttpBearer

from core.api_keys import api_key_by_key, api_key_touch
from core.api_ratelimit import rate_limit_consume
from core.audit import Actor
from core.errors import CatalogError
from core.models import ApiKey, AuditEvent

CONNECTION = "connection"
ADMIN = "admin"


@dataclass
class Principal:
    """Who is calling: a connection (through its token) or an admin key."""

    kind: str
    prefix: str
    key_hash: str
    connection: Any = None  # a connections.Connection, for connection tokens
    api_key: ApiKey | None = None

    def actor(self, request: HttpRequest) -> Actor:
        """The audit's actor: an admin key by its name (the back office acting for a customer
        says who it is), a connection token by its prefix."""
        name = self.api_key.name if self.api_key is not None else self.prefix
        return Actor(name=name, source=AuditEvent.Source.API, request_id=getattr(request, "request_id", ""))

    @property
    def scope(self) -> str:
        """A stable name for the caller (idempotency keys are per caller)."""
        return f"connection:{self.connection.pk}" if self.connection else f"apikey:{self.api_key.pk}"


def principal_for_token(token: str) -> Principal | None:
    if token.startswith("sk_"):
        api_key = api_key_by_key(key=token)
        if api_key is not None:
            api_key_touch(api_key=api_key)
            return Principal(kind=ADMIN, prefix=api_key.key_prefix, key_hash=api_key.key_hash, api_key=api_key)
        return None
    # Connection tokens belong to the connections app, which this framework does not import:
    # settings.API_TOKEN_RESOLVERS names the function that turns each kind of token into a
    # Principal, as AUTHENTICATION_BACKENDS does for logins.
    for prefix, path in settings.API_TOKEN_RESOLVERS.items():
        if token.startswith(prefix):
            return import_string(path)(token)
    return None


class _TokenAuth(HttpBearer):
    kind: str = ""
    wrong_kind_message: str = ""

    def __call__(self, request: HttpRequest):
        header = request.headers.get("Authorization", "")
        if not header:
            raise CatalogError("AUTHENTICATION_FAILED", "Send the header Authorization: Bearer <token>.")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise CatalogError("AUTHENTICATION_FAILED", "Use the Bearer scheme: Authorization: Bearer <token>.")
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str):
        principal = principal_for_token(token)
        if principal is None:
            raise CatalogError("AUTHENTICATION_FAILED", "The token is invalid or has been revoked.")
        request.api_principal = principal
        rate_limit_consume(request, key_hash=principal.key_hash)
        if principal.kind != self.kind:
            raise CatalogError("PERMISSION_DENIED", self.wrong_kind_message)
        return principal


class ConnectionToken(_TokenAuth):
    """A connection token, `ctk_...`: one connection's records, sync status and runs."""

    kind = CONNECTION
    openapi_bearerFormat = "ctk_..."
    openapi_description = "A connection token: one connection's records, sync status and runs."
    wrong_kind_message = "This endpoint takes a connection token (ctk_...), not an admin key."


class AdminKey(_TokenAuth):
    """An admin key, `sk_...`: connections, connectors and webhooks across customers, and any
    connection's records and syncs under /connections/{connection_id}/."""

    kind = ADMIN
    openapi_bearerFormat = "sk_..."
    openapi_description = ("An admin key: connections, connectors and webhooks across customers, and any "
                           "connection's records and syncs.")
    wrong_kind_message = "This endpoint takes an admin key (sk_...); connection tokens may not use it."


connection_token = ConnectionToken()
admin_key = AdminKey()


def principal_of(request: HttpRequest) -> Principal:
    return request.auth


def connection_of(request: HttpRequest):
    return request.auth.connection


def actor_of(request: HttpRequest) -> Actor:
    return request.auth.actor(request)
