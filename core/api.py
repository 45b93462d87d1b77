"""REST API v1 (docs/api.md): the NinjaAPI, mounted at /api/v1/ in config/urls.py.

Routers live with their apps (connections/api.py, syncs/api.py, webhooks/api.py) and are added
in config/api_v1.py, so this module imports no app (the apps' routes import it); errors,
auth and rate limits, pagination and idempotency are in the core/api_*.py modules.
"""

from functools import wraps
from typing import Any

import orjson
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger
from ninja.parser import Parser
from ninja.renderers import BaseRenderer

from core.api_errors import install_exception_handlers
from core.errors import CatalogError
from core.json_limits import MAX_DEPTH


def _default(value: Any):
    # Decimals (money, quantities) are strings in the API, never floats (docs/entities.md).
    return str(value)


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> bytes:
        return orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z)


class ORJSONParser(Parser):
    """Strict JSON: no NaN or Infinity, no lone surrogates (json.loads accepts both)."""

    def parse_body(self, request: HttpRequest):
        try:
            return orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            # orjson stops at 1024 levels: valid JSON, refused like any value past MAX_DEPTH
            # (ninja wraps this in its 400, which core/api_errors.py unwraps).
            if "depth limit" not in str(exc):
                raise
            raise CatalogError("VALIDATION_FAILED", f"The request body is nested deeper than {MAX_DEPTH} levels.",
                               details={"fields": {"body": f"nested deeper than {MAX_DEPTH} levels"}}) from None


def json_bytes(data: Any) -> bytes:
    """The same encoding for routes that build their response themselves (records, replays)."""
    return orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z)


DESCRIPTION = """\
The unified records, sync control and administration of PlantSync.

Authenticate with `Authorization: Bearer <token>`: a **connection token** (`ctk_...`) for one
connection's records, sync status and runs, or an **admin key** (`sk_...`) for connections,
connectors and webhooks across customers, and any connection's records and syncs under
`/connections/{connection_id}/`. Every error answers with the envelope
`{"error": {"code", "type", "message", "request_id", "details"}}`; branch on `code`.
Lists are keyset-paginated: pass `next_cursor` back as `cursor` until it is null.
Each token may send `API_RATE_LIMIT` requests a minute (headers `RateLimit-Policy`, `RateLimit`).
"""

api = NinjaAPI(
    title="PlantSync API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    renderer=ORJSONRenderer(),
    parser=ORJSONParser(),
    # validatorUrl off: Swagger UI would otherwise call validator.swagger.io (no CDN, no internet).
    docs=Swagger(settings={"persistAuthorization": True, "validatorUrl": None}),
)
install_exception_handlers(api)


def _reject_unknown_query_parameters(view_func):
    """A query parameter the operation does not take is refused, not ignored, so a typo such
    as `modified_since` is not silently read as "everything"; so is one given twice (none of
    ours is a list). Runs after auth and validation."""
    operation = getattr(view_func, "_ninja_operation", None)
    allowed = set()
    for model in getattr(operation, "models", ()):
        if model.__ninja_param_source__ == "query":
            allowed |= set(getattr(model, "__ninja_flatten_map__", {}))

    @wraps(view_func)
    def wrapper(request, *args, **kwargs):
        problems = {name: "unknown parameter" for name in request.GET if name not in allowed}
        problems.update({name: "given more than once" for name, values in request.GET.lists()
                         if name in allowed and len(values) > 1})
        if problems:
            raise CatalogError("VALIDATION_FAILED", f"Invalid query parameter(s): {', '.join(sorted(problems))}.",
                               details={"fields": dict(sorted(problems.items()))})
        return view_func(request, *args, **kwargs)

    return wrapper


api.add_decorator(_reject_unknown_query_parameters, mode="operation")
