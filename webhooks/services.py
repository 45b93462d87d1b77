"""Writes for webhooks: the event outbox, endpoint management, delivery attempts, the sweeper.

Other apps call `event_emit` inside their own transaction: the event and its deliveries commit
with the change that caused them (outbox), and the Celery messages go out only after that
commit. The Delivery rows are the source of truth; messages only wake a worker, which claims
deliveries with a conditional UPDATE (its own and other due ones, a batch at a time), so
duplicate or late messages never send twice at once.
"""

import functools
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from config.celery import task_send
from connections.models import Connection
from core.audit import SYSTEM, Actor, audit_record
from core.errors import CatalogError
from core.json_limits import json_limits_check
from webhooks import attempt_sql, dispatch, signing, transport
from webhooks.models import Attempt, Delivery, Endpoint, Event
from webhooks.netpolicy import TargetRefused

logger = logging.getLogger(__name__)

EVENT_TYPES = (
    "sync.completed",
    "sync.failed",
    "sync.cancelled",
    "connection.created",
    "connection.status_changed",
    "connection.reauthorization_required",
    "incident.opened",
    "incident.resolved",
    "webhook.test",
)
PAYLOAD_KEYS = ("id", "type", "created_at", "connection_id", "data")
ATTEMPT_COLUMNS = ("delivery_id", "number", "at", "status_code", "duration_ms", "error", "remote_address",
                   "response_snippet", "request_headers", "request_body")
# A claimed delivery stays locked this long past the attempt's own timeout; a worker that dies
# mid-attempt releases it when the lock runs out (then the sweeper re-enqueues it).
LOCK_MARGIN_SECONDS = 60
# Clocks of producer and worker may differ a little; a message arriving this early still runs.
DUE_TOLERANCE = timedelta(seconds=2)
# Longer waits are not sent as countdown messages: Redis redelivers messages whose ETA is past
# the visibility timeout, and ETA messages sit in worker memory. The sweeper enqueues them when due.
COUNTDOWN_MAX_SECONDS = 3600
# Retry-After is honoured up to the length of the retry window.
RETRY_AFTER_MAX_SECONDS = 24 * 3600
SWEEP_BATCH = 1000
# How long one task keeps claiming further due deliveries before the worker takes its next message.
DRAIN_SECONDS = 20.0


class _Unset:
    pass


UNSET = _Unset()


def sweep_grace_seconds() -> int:
    # How late a due delivery must be before the sweeper assumes its message was lost.
    return settings.WEBHOOK_SWEEP_GRACE_SECONDS


def _enqueue_on_commit(delivery_ids: Sequence[int], *, countdown: float = 0.0) -> None:
    if delivery_ids:
        # robust: a broker outage after commit must not raise into the caller, whose change is
        # already committed; the sweeper enqueues the delivery later.
        transaction.on_commit(functools.partial(dispatch.deliveries_enqueue, delivery_ids=list(delivery_ids),
                                                countdown=countdown), robust=True)


def _jsonable(value):
    # UUIDs, datetimes and Decimals become strings once, so what is stored is what is sent.
    return orjson.loads(DjangoJSONEncoder().encode(value))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def event_body(event: Event) -> bytes:
    """The request body: the payload with its keys in the documented order."""
    payload = event.payload
    return orjson.dumps({key: payload.get(key) for key in PAYLOAD_KEYS})


# --- the outbox -------------------------------------------------------------------------------

def endpoints_for_event(*, type: str, connection: Connection | None) -> list[Endpoint]:
    scope = Q(connection__isnull=True)
    if connection is not None:
        scope |= Q(connection=connection)
    # Only what matching needs: loading the secrets would decrypt them for nothing.
    candidates = Endpoint.objects.filter(scope, enabled=True).only("id", "event_types", "connection_id")
    return [endpoint for endpoint in candidates if endpoint.wants(type)]


def event_emit(*, type: str, connection: Connection | None = None, data: dict,
               endpoints: Iterable[Endpoint] | None = None) -> Event:
    """Records an event and one pending delivery per interested endpoint, in the caller's transaction.

    `endpoints` replaces the matching (enabled, scoped to this connection or global, subscribed
    to the type) with an explicit list; test sends use it. Delivery starts after commit.
    """
    if type not in EVENT_TYPES:
        raise CatalogError("VALIDATION_FAILED", f"Unknown webhook event type {type!r}.",
                           details={"type": type, "allowed": list(EVENT_TYPES)})
    now = timezone.now()
    event_id = uuid.uuid4()
    payload = _jsonable({"id": str(event_id), "type": type, "created_at": _iso(now),
                         "connection_id": str(connection.pk) if connection is not None else None, "data": data})
    targets = list(endpoints) if endpoints is not None else endpoints_for_event(type=type, connection=connection)
    with transaction.atomic():
        event = Event.objects.create(id=event_id, type=type, connection=connection, payload=payload, created_at=now)
        deliveries = Delivery.objects.bulk_create([
            Delivery(event=event, endpoint_id=endpoint.pk, next_attempt_at=now, queued_for=now)
            for endpoint in targets])
        _enqueue_on_commit([delivery.pk for delivery in deliveries])
    return event


# --- endpoints --------------------------------------------------------------------------------

def _url_refuse_userinfo(url: str) -> None:
    # A password in the URL would be stored in clear and shown wherever the URL is (pages,
    # audit, API); receivers authenticate deliveries by their signature instead.
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return  # malformed: the URL validator below names the problem
    if "@" in netloc:
        message = "a user name or password in the URL is not allowed; verify the signature instead"
        raise CatalogError("VALIDATION_FAILED", f"Invalid endpoint URL: {message}",
                           details={"fields": {"url": message}})


def _url_check(url: str) -> str:
    url = (url or "").strip()
    _url_refuse_userinfo(url)
    try:
        transport.url_validate(url)
        URLValidator(schemes=["http", "https"])(url)
    except (ValidationError, TargetRefused) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        raise CatalogError("VALIDATION_FAILED", f"Invalid endpoint URL: {message}",
                           details={"fields": {"url": message}}) from None
    return url


def _event_types_check(event_types: Iterable[str]) -> list[str]:
    event_types = json_limits_check(list(event_types), field="event_types")
    if not all(isinstance(t, str) for t in event_types):
        raise CatalogError("VALIDATION_FAILED", details={"fields": {"event_types": "a list of event type names"}})
    event_types = list(dict.fromkeys(event_types))
    unknown = [t for t in event_types if t not in EVENT_TYPES]
    if unknown:
        raise CatalogError("VALIDATION_FAILED", f"Unknown event types: {', '.join(unknown)}.",
                           details={"fields": {"event_types": f"unknown: {', '.join(unknown)}; choose from "
                                                              f"{', '.join(EVENT_TYPES)}"}})
    return event_types


def endpoint_create(*, url: str, actor: Actor, description: str = "", event_types: Iterable[str] = (),
                    connection: Connection | None = None) -> tuple[Endpoint, str]:
    """Creates an endpoint; returns it with its signing secret, which is never readable again."""
    url, event_types = _url_check(url), _event_types_check(event_types)
    secret = signing.secret_generate()
    with transaction.atomic():
        endpoint = Endpoint.objects.create(url=url, description=description, event_types=event_types,
                                           connection=connection, secret=secret)
        audit_record(actor=actor, action="webhook_endpoint.created", target=endpoint, connection=connection,
                     details={"url": url, "event_types": event_types})
    return endpoint, secret


def endpoint_update(*, endpoint: Endpoint, actor: Actor, url: str | None = None, description: str | None = None,
                    event_types: Iterable[str] | None = None,
                    connection: Connection | None | _Unset = UNSET) -> Endpoint:
    """Changes the given fields (None or UNSET leaves a field as it is; connection=None makes it global)."""
    changes = {}
    if url is not None:
        changes["url"] = _url_check(url)
    if description is not None:
        changes["description"] = description
    if event_types is not None:
        changes["event_types"] = _event_types_check(event_types)
    if not isinstance(connection, _Unset):
        changes["connection"] = connection
    changed = {name: value for name, value in changes.items() if getattr(endpoint, name) != value}
    if not changed:
        return endpoint
    with transaction.atomic():
        for name, value in changed.items():
            setattr(endpoint, name, value)
        endpoint.save(update_fields=[*changed, "updated_at"])
        details = {name: (str(value.pk) if isinstance(value, Connection) else value) for name, value in changed.items()}
        audit_record(actor=actor, action="webhook_endpoint.updated", target=endpoint, connection=endpoint.connection,
                     details=details)
    return endpoint


def endpoint_delete(*, endpoint: Endpoint, actor: Actor) -> None:
    """Deletes the endpoint: at once it leaves every list, gets no new deliveries and its pending
    ones are never sent; its deliveries and attempts, then the row, are deleted in the background
    by `webhook_endpoint_purge_task` (events stay for other endpoints). An endpoint with a long
    history would otherwise hold a request and its locks for as long as the cascade takes."""
    now = timezone.now()
    with transaction.atomic():
        if not Endpoint.objects.filter(pk=endpoint.pk).update(
                deleted_at=now, enabled=False, disabled_at=now, disabled_reason=f"Deleted by {actor.name}."[:500],
                updated_at=now):
            return  # deleted meanwhile: recorded and purged once
        audit_record(actor=actor, action="webhook_endpoint.deleted", target=endpoint, connection=endpoint.connection,
                     details={"url": endpoint.url})
        # robust: the deletion stands if the broker is down; the hourly prune purges it then.
        transaction.on_commit(functools.partial(task_send, "webhooks.tasks.webhook_endpoint_purge_task",
                                                args=[endpoint.pk]), robust=True)


def endpoint_enable(*, endpoint: Endpoint, actor: Actor) -> Endpoint:
    """Re-enables an endpoint with a fresh failure window. Failed deliveries stay failed: replay them."""
    with transaction.atomic():
        endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = True, None, ""
        endpoint.failing_since = None
        endpoint.save(update_fields=["enabled", "disabled_at", "disabled_reason", "failing_since", "updated_at"])
        audit_record(actor=actor, action="webhook_endpoint.enabled", target=endpoint, connection=endpoint.connection)
    return endpoint


def endpoint_disable(*, endpoint: Endpoint, actor: Actor, reason: str = "") -> Endpoint:
    reason = (reason or f"Disabled by {actor.name}.")[:500]
    with transaction.atomic():
        endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = False, timezone.now(), reason
        endpoint.save(update_fields=["enabled", "disabled_at", "disabled_reason", "updated_at"])
        audit_record(actor=actor, action="webhook_endpoint.disabled", target=endpoint, connection=endpoint.connection,
                     details={"reason": reason})
    return endpoint


def _endpoint_disable_automatically(*, endpoint_id: int, reason: str) -> bool:
    """Disables an enabled endpoint on the system's behalf (410 Gone, failing too long)."""
    now = timezone.now()
    if not Endpoint.objects.filter(pk=endpoint_id, enabled=True).update(
            enabled=False, disabled_at=now, disabled_reason=reason[:500], updated_at=now):
        return False
    endpoint = Endpoint.objects.only("id", "connection_id").get(pk=endpoint_id)
    audit_record(actor=SYSTEM, action="webhook_endpoint.disabled", target=endpoint,
                 connection=endpoint.connection, details={"reason": reason})
    logger.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
    return True


def endpoint_secret_rotate(*, endpoint: Endpoint, actor: Actor) -> str:
    """A new secret, returned once; the previous one keeps signing for WEBHOOK_SECRET_ROLLOVER_HOURS."""
    now = timezone.now()
    hours = settings.WEBHOOK_SECRET_ROLLOVER_HOURS
    secret = signing.secret_generate()
    with transaction.atomic():
        endpoint.previous_secret = endpoint.secret if hours > 0 else None
        endpoint.previous_secret_expires_at = now + timedelta(hours=hours) if hours > 0 else None
        endpoint.secret = secret
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
        audit_record(actor=actor, action="webhook_endpoint.secret_rotated", target=endpoint,
                     connection=endpoint.connection,
                     details={"previous_valid_until": _iso(endpoint.previous_secret_expires_at) if hours > 0 else None})
    return secret


def endpoint_signing_secrets(*, endpoint: Endpoint, at: datetime) -> list[str]:
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > at:
        secrets.append(endpoint.previous_secret)
    return secrets


def endpoint_send_test(*, endpoint: Endpoint, actor: Actor) -> Event:
    """A `webhook.test` event to this endpoint only; sent even when it is disabled, to check it."""
    with transaction.atomic():
        event = event_emit(type="webhook.test", connection=endpoint.connection, endpoints=[endpoint], data={
            "message": "Test event from PlantSync.", "endpoint_id": endpoint.pk, "sent_by": actor.name})
        audit_record(actor=actor, action="webhook_endpoint.test_sent", target=endpoint, connection=endpoint.connection,
                     details={"event_id": str(event.id)})
    return event


# --- resend and replay ------------------------------------------------------------------------

def _restart_fields(now: datetime) -> dict:
    # A resend starts a fresh retry chain; `attempts` keeps counting every try.
    return {"status": Delivery.Status.PENDING, "chain_attempts": 0, "next_attempt_at": now, "queued_for": now}


def delivery_resend(*, delivery: Delivery, actor: Actor) -> Delivery:
    """Sends a delivery again now, whatever its status, with a fresh retry schedule."""
    endpoint = delivery.endpoint
    if endpoint.deleted_at is not None:
        raise CatalogError("NOT_FOUND", f"No webhook delivery {delivery.pk}.")
    if not endpoint.enabled and delivery.event.type != "webhook.test":
        raise CatalogError("INVALID_REQUEST", "The endpoint is disabled; enable it before resending.",
                           details={"endpoint_id": endpoint.pk})
    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(**_restart_fields(now))
        audit_record(actor=actor, action="webhook_delivery.resent", target=delivery, connection=endpoint.connection,
                     details={"event_id": str(delivery.event_id), "previous_status": delivery.status})
        _enqueue_on_commit([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def deliveries_replay_failed_since(*, endpoint: Endpoint, since: datetime, actor: Actor) -> int:
    """Resends every failed delivery of the endpoint created at or after `since`; returns how many."""
    if not endpoint.enabled:
        raise CatalogError("INVALID_REQUEST", "The endpoint is disabled; enable it before replaying.",
                           details={"endpoint_id": endpoint.pk})
    now = timezone.now()
    with transaction.atomic():
        ids = list(Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.FAILED, created_at__gte=since)
                   .values_list("pk", flat=True))
        for start in range(0, len(ids), SWEEP_BATCH):
            Delivery.objects.filter(pk__in=ids[start:start + SWEEP_BATCH]).update(**_restart_fields(now))
        audit_record(actor=actor, action="webhook_endpoint.replayed", target=endpoint, connection=endpoint.connection,
                     details={"since": _iso(since), "deliveries": len(ids)})
        _enqueue_on_commit(ids)
    return len(ids)


# --- attempts ---------------------------------------------------------------------------------

def _claim(delivery_ids: list[int], *, drain: int = 0, drain_due_before: datetime | None = None) -> list[Delivery]:
    """Takes deliveries for one attempt each: the given ones if pending, due and not held by another
    worker, and with `drain` up to that many more of the oldest due ones."""
    now = timezone.now()
    # Every request has WEBHOOK_TIMEOUT_SECONDS; a batch larger than the sending threads goes in waves.
    waves = max(1, -(-(len(delivery_ids) + drain) // transport.POST_THREADS))
    lock_seconds = settings.WEBHOOK_TIMEOUT_SECONDS * waves + LOCK_MARGIN_SECONDS
    return attempt_sql.deliveries_claim(delivery_ids=delivery_ids, drain=drain, now=now,
                                        due_before=now + DUE_TOLERANCE, drain_due_before=drain_due_before or now,
                                        locked_until=now + timedelta(seconds=lock_seconds))


def deliveries_attempt(*, delivery_ids: Sequence[int] = (), batch_size: int = dispatch.BATCH_SIZE) -> int:
    """What the webhooks queue runs for a message: attempts its deliveries that are still due, and
    in the same batches other due deliveries, until none is left or DRAIN_SECONDS have passed.
    Returns how many attempts were made.

    Each batch is claimed with one statement (duplicate or late messages find their deliveries
    taken or done and send nothing), sent at once (`transport.webhook_posts`) with no transaction
    open, then recorded in one transaction. Only deliveries due when the task started are drained,
    so the retries it schedules (even with no wait) are left to their own messages: one task tries
    a delivery at most once.
    """
    started, cutoff = time.monotonic(), timezone.now()
    ids = list(dict.fromkeys(delivery_ids))
    attempted = 0
    while True:
        own, ids = ids[:batch_size], ids[batch_size:]
        room = batch_size - len(own)
        claimed = _claim(own, drain=room, drain_due_before=cutoff)
        attempted += len(_attempts_make(claimed))
        drained = len(claimed) - len(set(own).intersection(d.pk for d in claimed))
        if not ids and (drained < room or time.monotonic() - started > DRAIN_SECONDS):
            return attempted


def delivery_attempt(*, delivery_id: int) -> Attempt | None:
    """Makes one HTTP attempt of one due delivery and records it; None when there was nothing to do
    (not due, held by another worker, done, deleted, or its endpoint disabled)."""
    attempts = _attempts_make(_claim([delivery_id]))
    return attempts[0] if attempts else None


def _attempts_make(deliveries: list[Delivery]) -> list[Attempt]:
    """Signs and sends claimed deliveries (at once, with no transaction open), then records every
    outcome in one transaction; returns the attempts in the order of `deliveries`."""
    if not deliveries:
        return []
    prepared, posts, idle = [], [], []
    for delivery in deliveries:
        endpoint, event = delivery.endpoint, delivery.event
        if endpoint.deleted_at is not None or (not endpoint.enabled and event.type != "webhook.test"):
            idle.append(delivery)
            continue
        body = event_body(event)
        at = timezone.now()
        try:
            headers = signing.signature_headers(secrets=endpoint_signing_secrets(endpoint=endpoint, at=at),
                                                msg_id=str(event.id), timestamp=int(at.timestamp()), body=body)
        except ValueError as exc:  # a secret that is not whsec_<base64>: only a hand-edited row has one
            # Nothing is sent unsigned; like a refused address, retrying cannot help until it is fixed.
            prepared.append((delivery, at, body, transport.PostResult(
                error=f"Not sent: the endpoint's secret is unusable ({exc}).", refused=True)))
        else:
            prepared.append((delivery, at, body, None))
            posts.append(transport.Post(url=endpoint.url, body=body, headers=headers))
    results = iter(transport.webhook_posts(posts))
    outcomes = [(delivery, at, body, result or next(results)) for delivery, at, body, result in prepared]
    return _outcomes_record(outcomes=outcomes, idle=idle)


def _failure_message(result: transport.PostResult) -> str:
    if result.error:
        return result.error
    code = result.status_code
    if 300 <= code < 400:
        return f"HTTP {code}: redirects are not followed (Location: {result.location or 'none'})."
    if code == 410:
        return "HTTP 410 Gone: the receiver asked us to stop; the endpoint was disabled."
    return f"HTTP {code}: not a 2xx answer."


def _retry_delay(delivery: Delivery, result: transport.PostResult) -> float | None:
    """Seconds until the next try, or None when the delivery has failed for good."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if result.refused or result.status_code == 410 or delivery.chain_attempts > len(schedule):
        return None
    if result.retry_after is not None:
        return min(result.retry_after, RETRY_AFTER_MAX_SECONDS)
    return float(schedule[delivery.chain_attempts - 1])


def _outcomes_record(*, outcomes: list[tuple[Delivery, datetime, bytes, transport.PostResult]],
                     idle: list[Delivery]) -> list[Attempt]:
    """One transaction: the attempts (one INSERT), their deliveries (one UPDATE), the endpoints'
    health, countdown messages for the retries (after the commit); deliveries of disabled
    endpoints (`idle`) fail unsent."""
    now = timezone.now()
    attempts, delivery_rows = [], []
    countdowns: dict[float, list[int]] = {}
    endpoints: dict[int, tuple[Endpoint, list[transport.PostResult]]] = {}
    for delivery, at, body, result in outcomes:
        delivery.attempts += 1
        delivery.chain_attempts += 1
        error = "" if result.ok else _failure_message(result)
        attempts.append(Attempt(delivery_id=delivery.pk, number=delivery.attempts, at=at,
                                status_code=result.status_code, duration_ms=result.duration_ms, error=error,
                                remote_address=result.remote_address, response_snippet=result.response_snippet,
                                request_headers=result.request_headers, request_body=body.decode()))
        fields = {"status": Delivery.Status.PENDING, "attempts": delivery.attempts,
                  "chain_attempts": delivery.chain_attempts, "locked_until": None,
                  "last_status_code": result.status_code, "last_error": error[:2000],
                  "last_latency_ms": result.duration_ms, "next_attempt_at": None, "queued_for": None,
                  "delivered_at": None}
        if result.ok:
            fields.update(status=Delivery.Status.SUCCEEDED, delivered_at=now)
        elif (delay := _retry_delay(delivery, result)) is None:
            fields.update(status=Delivery.Status.FAILED)
        else:
            next_at = now + timedelta(seconds=delay)
            fields.update(next_attempt_at=next_at, queued_for=next_at if delay <= COUNTDOWN_MAX_SECONDS else None)
            if delay <= COUNTDOWN_MAX_SECONDS:
                countdowns.setdefault(delay, []).append(delivery.pk)
        delivery_rows.append((delivery.pk, fields))
        endpoints.setdefault(delivery.endpoint_id, (delivery.endpoint, []))[1].append(result)
    # Statements are built before the transaction opens (SQLite holds its write lock from BEGIN).
    insert = update = None
    if attempts:
        insert = attempt_sql.attempts_insert_statement(
            rows=[{name: getattr(attempt, name) for name in ATTEMPT_COLUMNS} for attempt in attempts])
        update = attempt_sql.deliveries_update_statement(rows=delivery_rows)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        attempt_sql.commit_without_waiting_for_flush(outermost=outermost)
        if insert:
            ids = attempt_sql.attempts_insert(statement=insert)
            attempt_sql.deliveries_update(statement=update)
            for attempt in attempts:
                attempt.pk = ids[attempt.delivery_id]
                attempt._state.adding, attempt._state.db = False, connection.alias
        for endpoint, results in endpoints.values():
            _endpoint_health_record(endpoint=endpoint, results=results, now=now)
        _deliveries_fail_unsent(idle)
        for delay, delivery_ids in countdowns.items():
            _enqueue_on_commit(delivery_ids, countdown=delay)
    for (delivery, *_), (_, fields) in zip(outcomes, delivery_rows, strict=False):
        for name, value in fields.items():
            if value is not None or name != "delivered_at":
                setattr(delivery, name, value)
    return attempts


def _endpoint_health_record(*, endpoint: Endpoint, results: list[transport.PostResult], now: datetime) -> None:
    """A success clears the endpoint's failure window; failures only start one. Requests of one
    batch run at once, so a success among them counts whatever order they finished in."""
    if any(result.ok for result in results):
        # Written at most once a minute per endpoint: a busy endpoint's row is not a hot spot.
        if endpoint.failing_since or not endpoint.last_success_at or endpoint.last_success_at < now - timedelta(
                minutes=1):
            Endpoint.objects.filter(pk=endpoint.pk).update(last_success_at=now, failing_since=None)
    elif endpoint.failing_since is None:
        Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    if any(result.status_code == 410 for result in results):
        reason = f"The receiver answered 410 Gone at {_iso(now)}."
        _endpoint_disable_automatically(endpoint_id=endpoint.pk, reason=reason)


def _deliveries_fail_unsent(deliveries: list[Delivery]) -> None:
    by_endpoint: dict[int, list[Delivery]] = {}
    for delivery in deliveries:
        by_endpoint.setdefault(delivery.endpoint_id, []).append(delivery)
    for group in by_endpoint.values():
        endpoint = group[0].endpoint
        if endpoint.deleted_at is not None:
            error = "Not sent: the endpoint was deleted."
        else:
            error = f"Not sent: the endpoint is disabled ({endpoint.disabled_reason or 'no reason given'})."
        Delivery.objects.filter(pk__in=[d.pk for d in group]).update(
            status=Delivery.Status.FAILED, next_attempt_at=None, locked_until=None, queued_for=None, last_error=error)


# --- the sweeper ------------------------------------------------------------------------------

def deliveries_sweep() -> dict[str, int]:
    """Re-enqueues due deliveries whose message is missing; disables endpoints failing for too long.

    A delivery counts as missing its message when it is due and no message is expected (long
    waits are not sent as countdowns), or when the message it was given should have run more
    than the grace period ago. Each delivery is re-enqueued at most once per grace period.
    """
    now = timezone.now()
    late = now - timedelta(seconds=sweep_grace_seconds())
    due = (Delivery.objects.filter(status=Delivery.Status.PENDING)
           .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
           .filter(Q(queued_for__isnull=True, next_attempt_at__lte=now)
                   | Q(next_attempt_at__lte=late, queued_for__lte=late)))
    ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    if ids:
        with transaction.atomic():
            Delivery.objects.filter(pk__in=ids).update(queued_for=now)
            _enqueue_on_commit(ids)
        logger.info("webhook sweep re-enqueued %d deliveries", len(ids))
    return {"requeued": len(ids), "disabled": _endpoints_disable_failing(now)}


def _endpoints_disable_failing(now: datetime) -> int:
    days = settings.WEBHOOK_DISABLE_AFTER_DAYS
    stale = Endpoint.objects.filter(enabled=True, failing_since__lte=now - timedelta(days=days))
    disabled = 0
    for endpoint_id, since in stale.values_list("pk", "failing_since"):
        disabled += _endpoint_disable_automatically(
            endpoint_id=endpoint_id, reason=f"No successful delivery for {days} days (failing since {_iso(since)}).")
    return disabled
