"""The sync engine: executes one SyncRun (docs/architecture.md, "Sync semantics").

A run is claimed (queued -> running), reads pages from its checkpoint, writes each page and
the new checkpoint in one transaction, and finishes succeeded, failed or cancelled. The cursor
advances only on success; a run that dies is resumed from its checkpoint by a later run.
"""

import logging
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connections.connectors.base import Page, ReadRequest, UpstreamError
from connections.connectors.registry import connector_for
from connections.models import Connection
from core.errors import CATALOGUE, CatalogError
from syncs import dispatch, outcomes
from syncs.models import Mode, Record, SyncRun, SyncState
from syncs.reading import PageReader, ReadPage, RetryNote, UpstreamWait
from syncs.runs import RunLost, run_message_send, run_note
from syncs.writers import InitialLoadCollision, PageResult, PreparedPage, record_id, rows_prepare, writer_for_database

log = logging.getLogger(__name__)


YIELD_CHECK_SECONDS = 1.0
SAMPLE_LIMIT = 5  # failed records kept in a run's details, with their ids and reasons


class RunCancelled(Exception):
    pass


class RunYield(Exception):
    """The run gives its worker to waiting work after this page, and goes on later."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def run_claim(*, run_id, ready_at: datetime | None = None) -> tuple[SyncRun, uuid.UUID] | None:
    """Moves `run_id`, or a waiting run of higher priority (dispatch.run_pick), to running under a
    new lease; None if `run_id` cannot start now (taken already, not yet due, or its connection
    has every slot busy: a run ending there sends it a message again, and the reaper resends what
    was lost).

    Claims take turns (dispatch.claims_serialize), so a connection's cap holds; the conditional
    UPDATE still guards the run itself.
    """
    now, lease = timezone.now(), uuid.uuid4()
    with transaction.atomic():
        dispatch.claims_serialize()
        picked = dispatch.run_pick(hint=run_id, hint_ready_at=ready_at, now=now)
        claimed = picked is not None and SyncRun.objects.filter(pk=picked, status=SyncRun.Status.QUEUED).update(
            status=SyncRun.Status.RUNNING, heartbeat_at=now, claimed_at=dispatch.slice_start(run_id=picked, now=now),
            lease=lease, not_before=None, wait_reason="")
    if not claimed:
        outcomes.run_cancel_if_requested(run_id=run_id)
        return None
    if picked != run_id:
        # This message went to a run of higher priority; the named run still waits for one.
        run_message_send(run_id=run_id, ready_at=SyncRun.objects.values_list("ready_at", flat=True).get(pk=run_id))
    run = SyncRun.objects.select_related("connection__customer").get(pk=picked)
    if run.started_at is None:
        run.started_at = now
        SyncRun.objects.filter(pk=run.pk).update(started_at=now)
    elif run.checkpoint:
        run_note(run=run, event="resumed", pages=run.pages, fetched=run.fetched)
    return run, lease


def run_execute(*, run_id, ready_at: datetime | None = None) -> SyncRun | None:
    """Runs the best ready run (not always `run_id`: see run_claim); returns it, or None if none."""
    claim = run_claim(run_id=run_id, ready_at=ready_at)
    if claim is None:
        return None
    run, lease = claim
    try:
        return _execute_claimed(run, lease)
    finally:
        # Runs of this connection held back by its cap need a message to start now a slot is free.
        outcomes.connection_next_dispatch(connection_id=run.connection_id)


def _execute_claimed(run: SyncRun, lease: uuid.UUID) -> SyncRun:
    log.info("sync run %s started: %s %s %s", run.id, run.connection_id, run.entity, run.mode)
    try:
        RunExecution(run, lease=lease).execute()
    except RunCancelled:
        outcomes.run_finish_cancelled(run=run)
    except RunYield as yielded:
        _requeue(run, lease, reason=yielded.reason, yielded=True,
                 keep_slice=yielded.reason == dispatch.YIELD_TO_MANUAL)
    except RunLost:
        log.warning("sync run %s was taken from this worker (stalled?); its last page was rolled back", run.id)
    except SoftTimeLimitExceeded:
        # Out of time for this task: the run goes back to the queue and on from its checkpoint.
        _requeue(run, lease, reason="task time limit reached; continuing from the checkpoint")
    except UpstreamWait as wait:
        _requeue(run, lease, reason=f"{wait.error.code}: the upstream asked for a {wait.seconds:.0f} s wait; "
                 "the worker was given back", not_before=timezone.now() + timedelta(seconds=wait.seconds),
                 wait_reason=WAIT_REASONS.get(wait.error.code, "the upstream asked us to wait"))
    except CatalogError as exc:  # UpstreamError included
        outcomes.run_finish_failed(run=run, error=exc, lease=lease)
    except Exception as exc:
        log.exception("sync run %s crashed", run.id)
        outcomes.run_finish_failed(run=run, lease=lease, error=CatalogError(
            "INTERNAL_ERROR", f"The run stopped on an unexpected error ({type(exc).__name__}); "
            "the next run resumes from its checkpoint.", details={"exception": type(exc).__name__}))
    run.refresh_from_db()
    log.info("sync run %s finished %s %s", run.id, run.status, run.error_code)
    return run


WAIT_REASONS = {"UPSTREAM_RATE_LIMITED": "rate limited", "UPSTREAM_SERVER_ERROR": "upstream unavailable"}


def _requeue(run: SyncRun, lease: uuid.UUID, **how) -> None:
    try:
        outcomes.run_requeue(run=run, lease=lease, **how)
    except RunLost:
        log.warning("sync run %s was taken from this worker before it could be requeued", run.id)


class RunExecution:
    def __init__(self, run: SyncRun, *, lease: uuid.UUID):
        self.run, self.lease = run, lease
        self.connection = run.connection
        self.connector = connector_for(self.connection)
        self.writer = writer_for_database()
        self.next_yield_check = 0.0
        self.full = run.mode == Mode.FULL
        # An upstream that cannot filter by changed-since is read whole on every run; hashes keep
        # unchanged rows unchanged, and the run may detect deletions like a full one
        # (docs/architecture.md, "Sync semantics").
        self.whole_window = self.full or not self.connector.filters_changed_since(run.entity)
        cp = run.checkpoint or {}
        self.marker = uuid.UUID(cp["marker"]) if cp.get("marker") else run.id
        self.window_end = _parse(cp.get("window_end")) or run.started_at
        self.max_seen = _parse(cp.get("max_updated_at"))
        # Every page was read and written before the run stopped: it only has to finish.
        self.read_done = bool(cp.get("done"))
        self.unidentified = int(cp.get("unidentified", 0))
        # Seen pages written so far (syncs/seen.py); None: a checkpoint from before they were counted.
        self.seen_pages = cp["seen_pages"] if "seen_pages" in cp else None if cp.get("marker") else 0
        # 429s met and retried in this run (a requeued run goes on counting), kept in its details.
        self.rate_limited = int((run.error_details or {}).get("rate_limited_retries", 0))
        self.window_start = self.window_end - timedelta(days=self.connection.history_days)
        self.since = None
        if not self.whole_window and run.cursor_from and run.cursor_from.get("updated_at"):
            self.since = _parse(run.cursor_from["updated_at"]) - timedelta(seconds=settings.SYNC_OVERLAP_SECONDS)

    def execute(self) -> None:
        run = self.run
        if self.connection.status == Connection.Status.AUTH_FAILED:
            # Queued before another run of this connection met bad credentials: asking again would
            # fail the same way (and count against an account lockout). It ends on that incident.
            raise CatalogError("REAUTHORIZATION_REQUIRED", self.connection.status_reason
                               or CATALOGUE["REAUTHORIZATION_REQUIRED"].message)
        # The change feed's counter lives on the SyncState: it must exist before a page is written.
        SyncState.objects.get_or_create(connection_id=run.connection_id, entity=run.entity)
        if not self.read_done:
            self.read_and_write()
        run.error_details = {**(run.error_details or {}), "rate_limited_retries": self.rate_limited}
        # An upstream with no change date to filter on is read whole, history window or not, so
        # every stored record is in the deletion scan, however old its date.
        deletion_window = self.window_start if self.connector.filters_changed_since(run.entity) else None
        outcomes.run_finish_succeeded(run=run, lease=self.lease, window_start=deletion_window, marker=self.marker,
                                      cursor_to=self.cursor_to(), unidentified=self.unidentified,
                                      whole_window=self.whole_window, seen_pages=self.seen_pages)

    def read_and_write(self) -> None:
        self.writer_prepare()
        reader = PageReader(connector=self.connector, request_for=self.request_for, prepare=self.prepare,
                            checkpoint=(self.run.checkpoint or {}).get("reader", {}),
                            retries=settings.SYNC_PAGE_RETRIES, retry_wait=self.retry_wait,
                            max_sleep=settings.SYNC_MAX_SLEEP_SECONDS)
        with reader, _quick_thread_switches():
            for item in reader.items(on_idle=self.heartbeat):
                if isinstance(item, RetryNote):
                    run_note(run=self.run, event="retry", code=item.code, attempt=item.attempt,
                             wait_seconds=item.wait_seconds, message=item.message)
                    if item.code == "UPSTREAM_RATE_LIMITED":
                        self.rate_limited_note()
                    continue
                self.write_page(item)
                if item.next_checkpoint is not None:
                    self.yield_if_waited_for()

    def yield_if_waited_for(self) -> None:
        """Between pages: give the worker back if waiting work should have it (at most one
        look a second, so a run of small fast pages does not spend its time asking)."""
        now = time.monotonic()
        if now < self.next_yield_check:
            return
        self.next_yield_check = now + YIELD_CHECK_SECONDS
        reason = dispatch.yield_reason(run=self.run, now=timezone.now())
        if reason:
            raise RunYield(reason)

    def rate_limited_note(self) -> None:
        """Counts a 429 in the run's details at once, so a run that fails or is requeued keeps it."""
        self.rate_limited += 1
        self.run.error_details = {**(self.run.error_details or {}), "rate_limited_retries": self.rate_limited}
        SyncRun.objects.filter(pk=self.run.pk).update(error_details=self.run.error_details)

    def writer_prepare(self) -> None:
        self.writer.assume_new = not Record.objects.filter(connection_id=self.run.connection_id,
                                                           entity=self.run.entity).exists()

    def request_for(self, checkpoint: dict) -> ReadRequest:
        return ReadRequest(self.run.entity, since=self.since, window_start=None if self.since else self.window_start,
                           checkpoint=checkpoint)

    def cursor_to(self) -> dict | None:
        # The high-water mark: never past the moment reading began, so a record changed while
        # the run was reading is picked up next time; the overlap window covers clock skew.
        if self.max_seen is None:
            return self.run.cursor_from or {"updated_at": self.window_end.isoformat()}
        return {"updated_at": min(self.max_seen, self.window_end).isoformat()}

    def check_cancel(self) -> None:
        if SyncRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
            raise RunCancelled()

    @staticmethod
    def retry_wait(exc: UpstreamError, attempt: int) -> float:
        # Retry-After is the upstream's word and is honoured even past our own backoff; a wait
        # past SYNC_MAX_SLEEP_SECONDS is not slept through but gives the worker back (reading.py).
        if exc.retry_after is not None:
            return float(exc.retry_after)
        return min(settings.SYNC_RETRY_BASE_SECONDS * 2 ** (attempt - 1), settings.SYNC_RETRY_MAX_SECONDS)

    def heartbeat(self) -> None:
        """While the reader waits on a slow or rate-limited upstream, the run still shows alive."""
        if not self.owned().update(heartbeat_at=timezone.now()):
            self.check_cancel()
            raise RunLost()
        self.check_cancel()

    def owned(self):
        return SyncRun.objects.filter(pk=self.run.pk, status=SyncRun.Status.RUNNING, lease=self.lease)

    def prepare(self, upstream: Page) -> PreparedPage:
        connection_id, entity = self.connection.id, self.run.entity
        # Only an initial load validates every record here; other runs validate the ones they store.
        page = rows_prepare(connector=self.connector, entity=entity, connection_id=connection_id,
                            raws=upstream.records, validate=self.writer.assume_new)
        if upstream.deleted_remote_ids:
            page.deleted_ids = [record_id(connection_id=connection_id, entity=entity, remote_id=str(remote_id))
                                for remote_id in upstream.deleted_remote_ids]
        self.writer.preformat(page, connection_id=connection_id, entity=entity)
        return page

    def write_page(self, page: ReadPage) -> None:
        try:
            self.write_page_once(page)
        except InitialLoadCollision:
            # The optimistic insert met a stored id; the page rolled back whole, so classify it.
            self.writer.assume_new = False
            self.write_page_once(page)

    def write_page_once(self, page: ReadPage) -> None:
        run, prepared = self.run, page.prepared
        now = timezone.now()
        with transaction.atomic():
            # The page's seen ids take the next number; the checkpoint counts them with the page.
            seen_pages = self.seen_pages
            result = self.writer.write(prepared, connection_id=self.connection.id, entity=run.entity,
                                       now=now, marker=self.marker,
                                       full=self.whole_window and seen_pages is not None,
                                       seen_page=(seen_pages or 0) + 1)
            if seen_pages is not None:
                seen_pages += result.seen_pages
            # After the write: records that failed the schema there no longer count for the mark.
            max_seen = self.max_seen
            if prepared.max_updated_at and (max_seen is None or prepared.max_updated_at > max_seen):
                max_seen = prepared.max_updated_at
            unidentified = self.unidentified + prepared.unidentified
            checkpoint = {"reader": page.next_checkpoint, "done": page.next_checkpoint is None,
                          "marker": str(self.marker), "window_end": self.window_end.isoformat(),
                          "max_updated_at": max_seen.isoformat() if max_seen else None, "unidentified": unidentified,
                          "seen_pages": seen_pages}
            update = dict(checkpoint=checkpoint, heartbeat_at=now, pages=F("pages") + 1,
                          fetched=F("fetched") + page.fetched, created=F("created") + result.created,
                          updated=F("updated") + result.updated, unchanged=F("unchanged") + result.unchanged,
                          failed_records=F("failed_records") + len(prepared.failures))
            if result.deleted:
                update["deleted"] = F("deleted") + result.deleted
            if page.total is not None and page.total != run.total_records:
                update["total_records"] = page.total
            details = self.details_with_samples(prepared.failures)
            if details is not None:
                update["error_details"] = details
            # The cancel flag is checked by this same statement, not by a query of its own per page:
            # a cancelled run rolls its last page back and stops.
            if not self.owned().filter(cancel_requested=False).update(**update):
                self.check_cancel()
                raise RunLost()
        run.checkpoint, self.max_seen, self.unidentified = checkpoint, max_seen, unidentified
        self.seen_pages = seen_pages
        if page.total is not None:
            run.total_records = page.total
        if details is not None:
            run.error_details = details
        _accumulate(run, result, page.fetched, len(prepared.failures))

    def details_with_samples(self, failures: list[dict]) -> dict | None:
        """The run's details with the first SAMPLE_LIMIT failed records; None if unchanged."""
        samples = (self.run.error_details or {}).get("failed_samples", [])
        if not failures or len(samples) >= SAMPLE_LIMIT:
            return None
        return {**(self.run.error_details or {}), "failed_samples": (samples + failures)[:SAMPLE_LIMIT]}


@contextmanager
def _quick_thread_switches(seconds: float = 0.0001):
    """The writing thread waits on the database many times a page; with the reader thread busy
    in Python, each wake-up waits for the GIL's switch interval (5 ms by default). At 0.1 ms
    bench_sync runs a third faster or more; the figures are in docs/performance.md."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _accumulate(run: SyncRun, result: PageResult, fetched: int, failed: int) -> None:
    run.pages += 1
    run.fetched += fetched
    run.created += result.created
    run.updated += result.updated
    run.unchanged += result.unchanged
    run.deleted += result.deleted
    run.failed_records += failed


def _parse(value) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
