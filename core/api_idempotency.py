"""Idempotency-Key for API v1 POSTs (docs/api.md): one answer per key for 24 hours.

The same key with the same request (method, path, body) gets the stored answer again, marked
`Idempotent-Replayed: true`; the same key with a different request is refused with 422
IDEMPOTENCY_KEY_REUSED. Keys are per caller (token). Only successful answers are stored: an
error (say 409 CONNECTION_NOT_ACTIVE) may be retried with the same key once the cause is gone.

The operation and the stored answer commit in one transaction, so two concurrent requests
with one key do the work once: the second hits the unique (scope, key) index, rolls back
what it did and replays the first one's answer.
"""

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

import orjson
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from core.errors import CatalogError
from core.models import IdempotencyKey

TTL = timedelta(hours=24)
HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, no spaces


def idempotency_key_check(value: str | None) -> str | None:
    if value is None:
        return None
    if not _KEY.match(value):
        raise CatalogError("VALIDATION_FAILED", f"{HEADER} must be 1 to 255 visible ASCII characters.",
                           details={"fields": {HEADER: "1 to 255 visible ASCII characters, no spaces"}})
    return value


def request_fingerprint(*, method: str, path: str, body) -> str:
    return hashlib.sha256(orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS)).hexdigest()


def _replay(stored: IdempotencyKey, fingerprint: str) -> tuple[int, bytes, bool]:
    if stored.request_hash != fingerprint:
        raise CatalogError("IDEMPOTENCY_KEY_REUSED",
                           f"This {HEADER} was already used with a different request in the last 24 hours.",
                           details={"idempotency_key": stored.key})
    return stored.response_status, stored.response_body.encode(), True


def idempotent_call(*, scope: str, key: str | None, fingerprint: str,
                    call: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes, bool]:
    """Runs `call` once per (scope, key); returns (status, body bytes, replayed).

    `call` returns the status and the rendered JSON body; a replay sends the same bytes."""
    if key is None:
        status, body = call()
        return status, body, False
    now = timezone.now()
    stored = IdempotencyKey.objects.filter(scope=scope, key=key).first()
    if stored is not None and stored.expires_at <= now:
        stored.delete()
        stored = None
    if stored is not None:
        return _replay(stored, fingerprint)
    try:
        with transaction.atomic():
            status, body = call()
            IdempotencyKey.objects.create(scope=scope, key=key, request_hash=fingerprint, response_status=status,
                                          response_body=body.decode(), expires_at=now + TTL)
    except IntegrityError:
        stored = IdempotencyKey.objects.filter(scope=scope, key=key).first()
        if stored is None:
            raise
        return _replay(stored, fingerprint)
    IdempotencyKey.objects.filter(expires_at__lte=now).delete()
    return status, body, False


def json_response(status: int, body: bytes, *, replayed: bool) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response
