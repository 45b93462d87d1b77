"""The API's error envelope (docs/api.md, "Errors"), for every response under /api/.

    {"error": {"code", "type", "message", "request_id", "details"}}

Ninja's exception handlers cover everything raised inside an operation (auth included);
ApiMiddleware covers what never reaches an operation: unknown routes, wrong methods, and any
non-envelope error response or exception from the rest of the stack. Codes, statuses and
types come from the one catalogue in core/errors.py.
"""

import logging
import math
import re
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError as DbDataError
from django.db import InterfaceError as DbInterfaceError
from django.db import OperationalError as DbOperationalError
from django.http import Http404, HttpRequest, HttpResponse
from kombu.exceptions import OperationalError as BrokerOperationalError
from ninja import Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import Field

from core.errors import CATALOGUE, CatalogError
from core.logcontext import current_request_id

log = logging.getLogger("core.api")

API_PREFIX = "/api/"

# Connection failures to the database, the broker or Redis: the request may succeed later.
UNAVAILABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    DbOperationalError, DbInterfaceError, BrokerOperationalError, ConnectionError, TimeoutError)
try:  # redis-py's errors do not derive from the builtin ConnectionError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    UNAVAILABLE_EXCEPTIONS += (RedisConnectionError, RedisTimeoutError)
except ImportError:  # pragma: no cover - redis is a dependency
    pass

# What a bare status (from Django or ninja, outside our handlers) means in the catalogue.
STATUS_CODES = {400: "INVALID_REQUEST", 401: "AUTHENTICATION_FAILED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                405: "METHOD_NOT_ALLOWED", 422: "VALIDATION_FAILED", 429: "RATE_LIMIT_EXCEEDED",
                500: "INTERNAL_ERROR", 503: "SERVICE_UNAVAILABLE"}

# Every error status an operation may answer with; declared on each operation in the OpenAPI schema.
ERROR_STATUSES = (400, 401, 403, 404, 409, 422, 429, 500, 503)
UPSTREAM_STATUS = 502  # connector checks (create, update, test a connection) fail with UPSTREAM_* codes


class ErrorBody(Schema):
    code: str = Field(description="Stable, machine-readable; branch on this.", examples=["NOT_FOUND"])
    type: str = Field(description="The error's family.", examples=["invalid_request_error"])
    message: str = Field(description="For people; may change.")
    request_id: str = Field(description="Also in the X-Request-ID header; quote it to support.")
    details: dict[str, Any] = Field(description="Structured context, e.g. `fields` for validation errors.")


class ErrorOut(Schema):
    error: ErrorBody


def error_responses(*, upstream: bool = False) -> dict:
    """The `response=` entries for errors, merged into each operation's own."""
    statuses = ERROR_STATUSES + ((UPSTREAM_STATUS,) if upstream else ())
    return {statuses: ErrorOut}


def retry_after_seconds() -> int:
    return int(getattr(settings, "API_RETRY_AFTER_SECONDS", 5))


def _request_id(request: HttpRequest | None) -> str:
    return getattr(request, "request_id", "") or current_request_id()


def error_response(request: HttpRequest | None, code: str, message: str = "", *, details: dict | None = None,
                   retry_after: float | None = None, headers: dict | None = None) -> HttpResponse:
    spec = CATALOGUE[code] if code in CATALOGUE else CATALOGUE["INTERNAL_ERROR"]
    body = {"error": {"code": spec.code, "type": spec.type, "message": message or spec.message,
                      "request_id": _request_id(request), "details": details or {}}}
    response = HttpResponse(orjson.dumps(body, default=str), status=spec.status, content_type="application/json")
    if retry_after is None and spec.code in ("RATE_LIMIT_EXCEEDED", "SERVICE_UNAVAILABLE"):
        retry_after = retry_after_seconds()
    if retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    if spec.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="plantsync"'
    for name, value in (headers or {}).items():
        response[name] = value
    response.api_envelope = True
    return response


def catalog_error_response(request, exc: CatalogError) -> HttpResponse:
    return error_response(request, exc.code, exc.message, details=exc.details, retry_after=exc.retry_after)


# The name every API operation gives its body parameter (see the api.py modules).
_BODY_PARAM_NAMES = {"payload"}


def _field_name(loc: tuple) -> tuple[str, str]:
    """(location, dotted field) from a ninja error location such as ("body", "payload", "mode")."""
    source, rest = (str(loc[0]), [str(part) for part in loc[1:]]) if loc else ("body", [])
    if source == "body" and len(rest) > 1 and rest[0] in _BODY_PARAM_NAMES:
        rest = rest[1:]  # the view's body parameter name says nothing to the client
    if source == "header":
        rest = [part.replace("_", "-").title() for part in rest]
    return source, ".".join(rest) or source



def validation_details(errors: list[dict]) -> dict:
    fields: dict[str, str] = {}
    listed = []
    for error in errors:
        location, field = _field_name(tuple(error.get("loc", ())))
        message = str(error.get("msg", "invalid"))
        fields[field] = f"{fields[field]}; {message}" if field in fields else message
        listed.append({"field": field, "location": location, "message": message, "type": str(error.get("type", ""))})
    return {"fields": fields, "errors": listed}


def exception_response(request, exc: BaseException) -> HttpResponse:
    """The envelope for any exception; unknown ones are logged and answered without internals."""
    if isinstance(exc, CatalogError):
        return catalog_error_response(request, exc)
    if isinstance(exc, NinjaValidationError):
        return error_response(request, "VALIDATION_FAILED", details=validation_details(exc.errors))
    if isinstance(exc, AuthenticationError):
        return error_response(request, "AUTHENTICATION_FAILED")
    if isinstance(exc, AuthorizationError | PermissionDenied):
        return error_response(request, "PERMISSION_DENIED")
    if isinstance(exc, Throttled):
        return error_response(request, "RATE_LIMIT_EXCEEDED", retry_after=exc.wait)
    if isinstance(exc, HttpError) and isinstance(exc.__cause__, CatalogError):
        return catalog_error_response(request, exc.__cause__)  # the parser's own refusal, wrapped by ninja
    if isinstance(exc, HttpError):
        code = STATUS_CODES.get(exc.status_code, "INVALID_REQUEST" if exc.status_code < 500 else "INTERNAL_ERROR")
        message = "The request body is not valid JSON." if exc.message.startswith("Cannot parse request body") else ""
        return error_response(request, code, message)
    if isinstance(exc, Http404):
        return error_response(request, "NOT_FOUND")
    if isinstance(exc, DjangoValidationError):
        return error_response(request, "VALIDATION_FAILED", details={"fields": {"request": "; ".join(exc.messages)}})
    if isinstance(exc, DbDataError):
        # Input the database cannot store (a NUL character, say) that got past validation.
        log.warning("API request refused by the database: %s", exc)
        return error_response(request, "INVALID_REQUEST", "A value in the request cannot be stored "
                              "(for example a NUL character or a number out of range).")
    if isinstance(exc, UNAVAILABLE_EXCEPTIONS):
        log.warning("API request failed: a service is unavailable (%s: %s)", type(exc).__name__, exc)
        return error_response(request, "SERVICE_UNAVAILABLE")
    log.error("Unhandled error in API request %s %s", getattr(request, "method", "?"),
              getattr(request, "path", "?"), exc_info=(type(exc), exc, exc.__traceback__))
    return error_response(request, "INTERNAL_ERROR")


def install_exception_handlers(api) -> None:
    for exc_class in (Exception, CatalogError, NinjaValidationError, HttpError, Http404, PermissionDenied,
                      DjangoValidationError, DbDataError):
        api.add_exception_handler(exc_class, exception_response)


def envelope_for_response(request, response: HttpResponse) -> HttpResponse:
    """An error response from outside our handlers (Django's 404, ninja's 405, a 500 page...) as an envelope."""
    status = response.status_code
    code = STATUS_CODES.get(status, "INVALID_REQUEST" if status < 500 else "INTERNAL_ERROR")
    message, details, headers = "", {}, {}
    if code == "NOT_FOUND":
        message = f"No API route matches {request.method} {request.path}."
    elif code == "METHOD_NOT_ALLOWED":
        allowed = sorted(m.strip() for m in response.get("Allow", "").split(",") if m.strip())
        message = f"{request.method} is not allowed on {request.path}."
        details = {"allowed_methods": allowed}
        headers["Allow"] = ", ".join(allowed)
    retry_after = response.get("Retry-After")
    return error_response(request, code, message, details=details, headers=headers,
                          retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None)


# A JSON \u0000 escape, i.e. one not itself escaped by a backslash.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _refuse_unstorable_input(request) -> HttpResponse | None:
    """NUL characters cannot be stored in PostgreSQL text or jsonb; refuse them up front, on
    every database alike. Also answers an oversized body in the envelope."""
    try:
        body = request.body
    except RequestDataTooBig:
        return error_response(request, "INVALID_REQUEST", "The request body is too large.")
    in_query = any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists())
    if in_query or b"\x00" in body or _JSON_NUL.search(body):
        return error_response(request, "INVALID_REQUEST", "NUL characters (\\u0000) are not allowed in API requests.")
    return None


class ApiMiddleware:
    """Under /api/: every error becomes the envelope, and rate-limit headers are added.

    Sits right after RequestIdMiddleware, so it sees every response and the request id is set.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        response = _refuse_unstorable_input(request) or self.get_response(request)
        if response.status_code >= 400 and not getattr(response, "api_envelope", False):
            response = envelope_for_response(request, response)
        state = getattr(request, "api_rate_limit", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response

    def process_exception(self, request, exception):
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, Http404):  # e.g. the API root, which is no operation
            return error_response(request, "NOT_FOUND", f"No API route matches {request.method} {request.path}.")
        return exception_response(request, exception)
