"""What the management commands share: the CLI actor, JSON arguments, catalogued errors."""

import getpass
import json
import uuid

from django.core.management.base import CommandError

from config.errors import CatalogError
from config.json_limits import MAX_DEPTH
from connections.audit import Actor
from connections.models import Connection


def cli_actor() -> Actor:
    return Actor(name=f"cli:{getpass.getuser()}", source="cli", request_id=f"req_{uuid.uuid4().hex[:24]}")


def json_argument(value: str | None, *, name: str) -> dict:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise CommandError(f"VALIDATION_FAILED: --{name} is not valid JSON ({exc.msg} at {exc.pos})") from None
    except RecursionError:
        # json.loads recurses per level; shallower input is bounded by the services' own check.
        raise CommandError(f"VALIDATION_FAILED: --{name} is nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(parsed, dict):
        raise CommandError(f"VALIDATION_FAILED: --{name} must be a JSON object")
    return parsed


def catalog_command_error(exc: CatalogError) -> CommandError:
    fields = (exc.details or {}).get("fields")
    detail = "".join(f"\n  {name}: {problem}" for name, problem in (fields or {}).items())
    return CommandError(f"{exc.code}: {exc.message}{detail}")


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
