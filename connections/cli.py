"""Finding a connection from a command line argument."""

import uuid

from django.core.management.base import CommandError

from connections.models import Connection


def connection_lookup(value: str) -> Connection:
    """By id, id prefix or exact name."""
    try:
        return Connection.objects.get(pk=uuid.UUID(value))
    except (ValueError, Connection.DoesNotExist):
        pass
    matches = list(Connection.objects.filter(name=value)[:2]) or [
        c for c in Connection.objects.only("id") if str(c.pk).startswith(value)][:2]
    if len(matches) != 1:
        raise CommandError(f"NOT_FOUND: no single connection matches {value!r}")
    return matches[0]
