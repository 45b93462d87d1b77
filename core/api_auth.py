"""API v1 authentication and per-token rate limiting (docs/api.md).

`Authorization: Bearer <token>` with either a connection token (`ctk_...`, one connection) or
an admin key (`sk_...`, everything across customers). Each route group says which kind it
takes: an unknown or revoked token is 401 AUTHENTICATION_FAILED, a valid token of the other
kind is 403 PERMISSION_DENIED (no resource id is looked at, so nothing leaks).

Every authenticated request counts against its token's budget of API_RATE_LIMIT requests per
minute (fixed one-minute windows in Django's cache: Redis in production, local memory on the
embedded default), reported in `RateLimit-Policy` / `RateLimit` headers (IETF draft
httpapi-ratelimit-headers) and answered 429 RATE_LIMIT_EXCEEDED with Retry-After once spent.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.module_loading import import_string
from ninja.security import HttpBearer

from core.api_keys import api_key_by_key, api_key_touch
from core.audit import Actor
from core.errors import CatalogError
from core.models import ApiKey, AuditEvent

log = logging.getLogger("core.api")

WINDOW_SECONDS = 60
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
        return Actor(name=self.prefix, source=AuditEvent.Source.API, request_id=getattr(request, "request_id", ""))

    @property
    def scope(self) -> str:
        """A stable name for the caller (idempotency keys are per caller)."""
        return f"connection:{self.connection.pk}" if self.connection else f"apikey:{self.api_key.pk}"


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {"RateLimit-Policy": f'"default";q={self.limit};w={WINDOW_SECONDS}',
                "RateLimit": f'"default";r={self.remaining};t={self.reset}'}


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


def clock() -> float:
    """Wall-clock seconds; tests replace it to stay inside one window."""
    return time.time()


def rate_limit_consume(request: HttpRequest, principal: Principal) -> None:
    """Counts this request; raises RATE_LIMIT_EXCEEDED once the minute's budget is spent.

    Fails open: when the cache is down the request goes through unlimited (and is logged),
    so reads from the database do not depend on Redis being up.
    """
    limit = int(getattr(settings, "API_RATE_LIMIT", 600))
    if limit <= 0:
        return
    now = clock()
    window = int(now // WINDOW_SECONDS)
    reset = max(1, WINDOW_SECONDS - int(now % WINDOW_SECONDS))
    key = f"api:ratelimit:{principal.key_hash[:32]}:{window}"
    try:
        try:
            count = cache.incr(key)
        except ValueError:  # first request of this window (or the key just expired)
            count = 1 if cache.add(key, 1, timeout=WINDOW_SECONDS + 5) else cache.incr(key)
    except Exception as exc:  # any cache failure: let the request through
        log.warning("API rate limiting skipped: the cache failed (%s: %s)", type(exc).__name__, exc)
        return
    request.api_rate_limit = RateLimitState(limit=limit, remaining=max(0, limit - count), reset=reset)
    if count > limit:
        raise CatalogError("RATE_LIMIT_EXCEEDED", f"More than {limit} requests in a minute with this token.",
                           details={"limit": limit, "window_seconds": WINDOW_SECONDS, "reset_seconds": reset},
                           retry_after=reset)


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
        rate_limit_consume(request, principal)
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
    """An admin key, `sk_...`: connections, connectors and webhooks across customers."""

    kind = ADMIN
    openapi_bearerFormat = "sk_..."
    openapi_description = "An admin key: connections, connectors and webhooks across customers."
    wrong_kind_message = "This endpoint takes an admin key (sk_...); connection tokens may not use it."


connection_token = ConnectionToken()
admin_key = AdminKey()


def principal_of(request: HttpRequest) -> Principal:
    return request.auth


def connection_of(request: HttpRequest):
    return request.auth.connection


def actor_of(request: HttpRequest) -> Actor:
    return request.auth.actor(request)
