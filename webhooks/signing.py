"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

    webhook-id:        the event id, the same on every retry (receivers dedupe on it)
    webhook-timestamp: Unix seconds of this attempt (receivers reject stale ones)
    webhook-signature: "v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>", one per valid
                       secret, space separated, so a receiver holding either secret verifies
                       during a rotation.

The HMAC key is the base64-decoded part of the secret after "whsec_".
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    # Tolerate unpadded base64, as the reference implementations do.
    key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    if not key:
        raise ValueError("empty webhook secret")
    return key


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(*, secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; `secrets` is the current one first, then any still valid."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret=s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets),
    }


def secret_mask(secret: str | None) -> str:
    """What people may see of a secret: only that it exists."""
    return f"{SECRET_PREFIX}••••••••" if secret else "(none)"
