"""Secrets for the embedded default, made once and kept under var/.

A new user runs the product with no environment at all, yet the encrypted credentials must
still decrypt after a restart, so the generated keys are written to disk on first use.
"""

import json
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def load_or_create(var_dir: Path) -> dict:
    path = var_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    var_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values
