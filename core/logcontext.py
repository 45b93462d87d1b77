"""What each log line says about its origin: the request id and the sync run id.

Context variables, not thread-locals: a request or a task sets them for exactly its own work and
resets them with their tokens afterwards, so a later line on the same thread (the next request a
worker thread serves, the next task a Celery process runs) never carries an earlier id.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_run_id: ContextVar[str] = ContextVar("run_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def current_run_id() -> str:
    return _run_id.get()


@contextmanager
def log_context(*, request_id: str | None = None, run_id: str | None = None) -> Iterator[None]:
    """Sets the ids given (None leaves one as it is) for the block; restores the earlier values after."""
    tokens = [(var, var.set(value)) for var, value in ((_request_id, request_id), (_run_id, run_id))
              if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class LogContextFilter(logging.Filter):
    """Adds `record.request_id` and `record.run_id` ("-" when unset) for the log format."""

    def filter(self, record):
        record.request_id = _request_id.get() or "-"
        record.run_id = _run_id.get() or "-"
        return True
