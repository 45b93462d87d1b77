"""What every management command shares: the CLI actor, JSON arguments, catalogued errors."""

import getpass
import json
import uuid

from django.core.management.base import CommandError

from core.audit import Actor
from core.errors import CatalogError
from core.json_limits import MAX_DEPTH


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
