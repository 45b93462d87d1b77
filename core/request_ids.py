"""Request ids: every response carries X-Request-ID, and the id flows into runs, audit and logs."""

import re
import uuid

from django.utils.log import log_response

from core.logcontext import log_context

_VALID = re.compile(r"^[A-Za-z0-9_.:-]{6,100}$")


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex[:24]}"


class RequestIdMiddleware:
    """Takes a well-formed incoming X-Request-ID (so a caller can correlate) or makes one.

    First in MIDDLEWARE, so the id is set for everything the request logs, and reset when the
    response leaves: the next request on this thread starts without it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _VALID.match(incoming) else new_request_id()
        with log_context(request_id=request.request_id):
            response = self.get_response(request)
            _log_error_response(request, response)
        response["X-Request-ID"] = request.request_id
        return response


def _log_error_response(request, response) -> None:
    # Django logs an error response ("Not Found: /x", raised 404 or returned) only after the
    # whole middleware chain has returned, when the id is already reset. Logging it here, with
    # Django's own words, marks the response as logged, so Django does not log it again.
    # (An uncaught exception is logged inside the chain, by Django's exception handling.)
    if response.status_code >= 400:
        log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
