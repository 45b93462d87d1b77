"""Admin keys (`sk_...`) for API v1: created and revoked here, looked up by the API's auth.

Like connection tokens, a key is shown once and stored as a SHA-256 hash beside a visible prefix.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.audit import Actor, audit_record
from core.errors import CatalogError
from core.models import ApiKey
from core.tokens import token_generate, token_hash, token_prefix

# last_used_at is written at most this often per key, so reads do not turn into writes.
TOUCH_INTERVAL = timedelta(seconds=60)


@transaction.atomic
def api_key_create(*, name: str, actor: Actor) -> tuple[ApiKey, str]:
    """Creates a key; returns it with the clear key, which exists only in this return value."""
    name = (name or "").strip()
    if not name:
        raise CatalogError("VALIDATION_FAILED", details={"fields": {"name": "this field is required"}})
    key = token_generate(kind="sk")
    api_key = ApiKey.objects.create(name=name[:200], key_hash=token_hash(key), key_prefix=token_prefix(key))
    audit_record(actor=actor, action="api_key.created", target=api_key,
                 details={"name": api_key.name, "key_prefix": api_key.key_prefix})
    return api_key, key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="api_key.revoked", target=api_key,
                     details={"name": api_key.name, "key_prefix": api_key.key_prefix})
    return api_key


def api_key_by_key(*, key: str) -> ApiKey | None:
    """The active key for a clear `sk_...` value, or None (unknown or revoked)."""
    if not key.startswith("sk_"):
        return None
    return ApiKey.objects.filter(key_hash=token_hash(key), revoked_at__isnull=True).first()


def api_key_touch(*, api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or api_key.last_used_at < now - TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
