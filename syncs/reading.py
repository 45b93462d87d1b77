"""Reading ahead: upstream pages are fetched and prepared on a thread while the engine writes.

Fetching, normalizing and hashing are Python work; writing is mostly the database's. Doing
them side by side keeps both cores busy. The reader thread writes no sync state: retry notes
travel to the engine through the same queue as pages, and the engine keeps the heartbeat while
it waits. (The upstream toolkit may use the database from it: the request budget without Redis,
the shared OAuth2 token; its connections are closed when the thread ends.) The queue is short,
so memory stays bounded to a few pages whatever the size.
"""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from queue import Empty, Full, Queue

from django.db import connections as db_connections

from connections.connectors.base import Connector, Page, ReadRequest, UpstreamError
from syncs.writers import PreparedPage

_DONE = object()


@dataclass
class ReadPage:
    prepared: PreparedPage
    fetched: int
    next_checkpoint: dict | None
    total: int | None = None  # the upstream's count for the whole read (Page.total)


class UpstreamWait(Exception):
    """The upstream asked for a wait longer than a worker may sleep: the run gives its worker
    back and is requeued to go on from its checkpoint after `seconds`."""

    def __init__(self, error: UpstreamError, seconds: float):
        super().__init__(error.message)
        self.error, self.seconds = error, seconds


@dataclass
class RetryNote:
    code: str
    attempt: int
    wait_seconds: float
    message: str


class PageReader:
    def __init__(self, *, connector: Connector, request_for: Callable[[dict], ReadRequest],
                 prepare: Callable[[Page], PreparedPage], checkpoint: dict, retries: int,
                 retry_wait: Callable[[UpstreamError, int], float], max_sleep: float, depth: int = 2):
        self.connector, self.request_for, self.prepare = connector, request_for, prepare
        self.checkpoint, self.retries, self.retry_wait, self.max_sleep = checkpoint, retries, retry_wait, max_sleep
        self.queue: Queue = Queue(maxsize=depth)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sync-page-reader", daemon=True)

    def __enter__(self) -> "PageReader":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        # A reader blocked in a slow upstream call is a daemon thread and ends with it.
        self.stopping.set()
        self.thread.join(timeout=1)

    def items(self, *, on_idle: Callable[[], None], idle_seconds: float = 5) -> Iterator[ReadPage | RetryNote]:
        while True:
            try:
                item = self.queue.get(timeout=idle_seconds)
            except Empty:
                on_idle()
                continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _run(self) -> None:
        try:
            # The credential check is an upstream call like any other: a passing 503 is retried.
            self._with_retries(self.connector.check)
            checkpoint = self.checkpoint
            while checkpoint is not None and not self.stopping.is_set():
                page = self._with_retries(self.connector.fetch_page, self.request_for(checkpoint))
                self._put(ReadPage(self.prepare(page), len(page.records), page.next_checkpoint, page.total))
                checkpoint = page.next_checkpoint
            self._put(_DONE)
        except BaseException as exc:  # handed to the engine, which fails the run with it
            self._put(exc)
        finally:
            # Django opens a connection per thread and never closes a thread's own: without
            # this, every run would leave a database session behind.
            db_connections.close_all()

    def _with_retries(self, call: Callable, *args):
        attempt = 0
        while True:
            try:
                return call(*args)
            except UpstreamError as exc:
                attempt += 1
                if not exc.retryable or attempt > self.retries:
                    raise
                wait = self.retry_wait(exc, attempt)
                if wait > self.max_sleep:
                    raise UpstreamWait(exc, wait) from exc
                self._put(RetryNote(exc.code, attempt, round(wait, 3), exc.message))
                if self.stopping.wait(wait):
                    raise

    def _put(self, item) -> None:
        while not self.stopping.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except Full:
                continue
