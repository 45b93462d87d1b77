"""Bearer tokens: shown once, stored as a SHA-256 hash beside a visible prefix."""

import hashlib
import secrets

PREFIX_LENGTH = 12


def token_generate(*, kind: str) -> str:
    return f"{kind}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    # The token has 256 bits of entropy, so a plain digest is as strong as a slow KDF here
    # and keeps the per-request lookup to one index probe.
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    return token[:PREFIX_LENGTH]
