"""Request ids: every response carries X-Request-ID, and the id flows into runs, audit and logs."""

import logging
import re
import threading
import uuid

_local = threading.local()
_VALID = re.compile(r"^[A-Za-z0-9_.:-]{6,100}$")


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex[:24]}"


def current_request_id() -> str:
    return getattr(_local, "request_id", "")


class RequestIdMiddleware:
    """Takes a well-formed incoming X-Request-ID (so a caller can correlate) or makes one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _VALID.match(incoming) else new_request_id()
        # Left set after the response: Django logs "Not Found" and the like after the middleware
        # chain returns. The next request on this thread replaces it.
        _local.request_id = request.request_id
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record):
        record.request_id = current_request_id() or "-"
        return True
