"""Encryption at rest for credentials and secrets (MultiFernet over FIELD_ENCRYPTION_KEYS)."""

from functools import lru_cache

import orjson
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys or not keys[0]:
        raise RuntimeError("FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    # Keyed by the settings value so tests that override the keys get a fresh instance.
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_value(value) -> str:
    return fernet().encrypt(orjson.dumps(value)).decode()


def decrypt_value(token: str):
    return orjson.loads(fernet().decrypt(token.encode()))


class EncryptedJSONField(models.TextField):
    """JSON stored as a Fernet token; the database never sees the clear value."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return None if value is None else {}
        return decrypt_value(value)

    def to_python(self, value):
        if isinstance(value, str) and value.startswith("gAAAA"):
            return decrypt_value(value)
        return value

    def get_prep_value(self, value):
        if value is None:
            return None
        return encrypt_value(value)

    def value_to_string(self, obj):
        return "<encrypted>"


def encrypted_fields():
    """Every (model, field name) holding encrypted data, for rotate_encryption."""
    from django.apps import apps

    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedJSONField):
                yield model, field.attname
