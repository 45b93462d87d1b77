"""The connector contract (docs/architecture.md, "The parts").

A connector is a class per upstream system. It knows its config and credential fields (which
drive the connect form and API validation), checks credentials, reads one page at a time from
a checkpoint, and maps upstream records to the unified model. It imports nothing of syncs,
webhooks or dashboard: the engine drives it.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from connections.connectors.entities import ENTITIES
from core.errors import CATALOGUE, CatalogError

# What a `json` field may hold, by JSON type name (ConfigField.json_types).
JSON_TYPES = {"object": dict, "array": list, "number": (int, float), "string": str}


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: str
    kind: str = "string"  # string | integer | number | boolean | url | json | password
    required: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (value, label): the form shows a select, validation refuses others
    min_value: float | None = None  # integer and number fields
    max_value: float | None = None
    example: str = ""  # shown after the help text ("e.g. https://erp.example.com/")
    json_types: tuple[str, ...] = ("object", "array")  # json fields: the JSON types accepted (JSON_TYPES)

    @property
    def secret(self) -> bool:
        return self.kind == "password"

    @property
    def help_text(self) -> str:
        """The help with the example appended, as forms and the catalogue show it."""
        example = f"(e.g. {self.example})" if self.example else ""
        return " ".join(part for part in (self.help, example) if part)

    def as_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "kind": self.kind, "required": self.required,
                "default": self.default, "help": self.help, "example": self.example,
                "choices": [{"value": v, "label": label} for v, label in self.choices],
                "min_value": self.min_value, "max_value": self.max_value,
                "json_types": list(self.json_types) if self.kind == "json" else None}


@dataclass
class Page:
    """One page of upstream records; `next_checkpoint` is None after the last page.

    `deleted_remote_ids` are tombstones the upstream reported in this page (upstream ids); the
    engine marks them deleted with the page. `total` is the upstream's count of records for the
    whole read, when it reports one: the dashboard shows percent done from it
    (docs/architecture.md, "Sync semantics").
    """

    records: list[dict]
    next_checkpoint: dict | None
    deleted_remote_ids: list[str] = field(default_factory=list)
    total: int | None = None


class UpstreamError(CatalogError):
    """A failure talking to the upstream system, with a catalogued UPSTREAM_* code."""

    @property
    def retryable(self) -> bool:
        return CATALOGUE[self.code].retryable


class MappingError(Exception):
    """One upstream record could not be normalized; the engine counts it and goes on."""


@dataclass(frozen=True)
class ReadRequest:
    entity: str
    since: datetime | None  # incremental: changed at or after this; None reads everything
    window_start: datetime | None  # full re-sync: the history_days window
    checkpoint: dict = field(default_factory=dict)


class Connector:
    key: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[str]  # erp | cmms | eam
    description: ClassVar[str] = ""
    config_fields: ClassVar[tuple[ConfigField, ...]] = ()
    credential_fields: ClassVar[tuple[ConfigField, ...]] = ()
    entities: ClassVar[tuple[str, ...]] = ENTITIES
    # Part of the mapping fingerprint (connections/connectors/fingerprint.py): a re-sync skips
    # normalize() for a record whose raw JSON and fingerprint are what they were. The fingerprint
    # already covers the connector's source, the generic parsing and schema modules and the
    # connection's config; bump this when a mapping changes in a way those cannot show (a lookup
    # table read from a file, a library upgrade that formats differently).
    mapping_version: ClassVar[str] = "1"

    def __init__(self, *, config: dict, credentials: dict, connection=None):
        # `connection` is the saved Connection, or None for checks before one exists (the
        # connect form, the create service); connectors that keep state on it (an OAuth token,
        # the request budget) must work without it.
        self.config = config or {}
        self.credentials = credentials or {}
        self.connection = connection

    @classmethod
    def validate(cls, *, config: dict, credentials: dict) -> dict:
        """Checks both against the declared fields; returns config with defaults filled in.

        Raises VALIDATION_FAILED with one entry per bad field, so forms and the API can show them.
        """
        errors = {}
        for group, values, fields in (("config", config, cls.config_fields),
                                      ("credentials", credentials, cls.credential_fields)):
            known = {f.name for f in fields}
            for name in values:
                if name not in known:
                    errors[f"{group}.{name}"] = "unknown field"
            for f in fields:
                message = _field_error(f, values.get(f.name))
                if message:
                    errors[f"{group}.{f.name}"] = message
        filled = {f.name: f.default for f in cls.config_fields if f.default is not None}
        filled.update(config)
        for name, message in cls.config_errors(filled).items():
            errors.setdefault(name, message)
        if errors:
            raise CatalogError("VALIDATION_FAILED", details={"fields": errors})
        return cls.prepare_config(filled)

    @classmethod
    def config_errors(cls, config: dict) -> dict:
        """Hook for what the declarations cannot say ({"config.<name>": message}); it sees the
        config with defaults filled in, possibly with values of the wrong type."""
        return {}

    @classmethod
    def prepare_config(cls, config: dict) -> dict:
        """Hook for values fixed at creation time, on a valid config."""
        return config

    @classmethod
    def catalogue_entry(cls) -> dict:
        return {"key": cls.key, "name": cls.name, "category": cls.category, "description": cls.description,
                "entities": list(cls.entities), "config_fields": [f.as_dict() for f in cls.config_fields],
                "credential_fields": [f.as_dict() for f in cls.credential_fields]}

    # The entity whose one-row probe check() reads; None: the connector overrides check().
    check_entity: ClassVar[str | None] = None

    def check(self) -> None:
        """Verifies the credentials with one cheap upstream call; raises UpstreamError.

        By default a probe of `check_entity`: only an authentication failure (or an unreachable
        system) fails the check. A user without rights to that one entity (403), or an API not
        activated on this system (404), is the per-entity probe's business, not bad credentials.
        """
        if self.check_entity is None:
            raise NotImplementedError
        try:
            self.probe(self.check_entity)
        except UpstreamError as exc:
            if exc.code not in ("UPSTREAM_PERMISSION_DENIED", "UPSTREAM_NOT_FOUND"):
                raise

    def check_details(self) -> dict:
        """What the last check() found that helps fill in the form, shown with a passing connection
        test (connector_probe's "details"). {"choices": {config field: [{"value", "label"}]}} lists
        values to choose from for a field left empty, e.g. the companies of an environment."""
        return {}

    def filters_changed_since(self, entity: str) -> bool:
        """Whether the upstream honours ReadRequest.since for the entity. When it does not, an
        incremental run reads the whole window and relies on hashes, and may detect deletions
        by full scan (docs/architecture.md, "Sync semantics")."""
        return True

    def probe(self, entity: str) -> None:
        """Reads (at most) one record of the entity, to show whether the credentials may read it
        ("Test connection"); raises UpstreamError. The default reads the first page; connectors
        whose first page is costly should ask for one record."""
        self.fetch_page(ReadRequest(entity, since=None, window_start=None))

    def fetch_page(self, request: ReadRequest) -> Page:
        """Reads the page at request.checkpoint; safe to call again for the same checkpoint."""
        raise NotImplementedError

    def remote_id(self, entity: str, raw: dict) -> str:
        """The record's upstream id, read with as little as possible, so that a record which
        fails to map is still known (and never taken for deleted); raises MappingError."""
        raise NotImplementedError

    def normalize(self, entity: str, raw: dict) -> dict:
        """Maps one upstream record to the unified dict; raises MappingError."""
        raise NotImplementedError

    def updated_at(self, entity: str, normalized: dict) -> datetime:
        """The upstream modification time; it must carry a UTC offset (a naive time is refused)."""
        return datetime.fromisoformat(normalized["updated_at"])

    def pages(self, request: ReadRequest) -> Iterator[Page]:
        """Streams every page from request.checkpoint on (for callers that need no retries)."""
        checkpoint = request.checkpoint
        while checkpoint is not None:
            page = self.fetch_page(ReadRequest(request.entity, request.since, request.window_start, checkpoint))
            yield page
            checkpoint = page.next_checkpoint


def _field_error(f: ConfigField, value) -> str:
    if value is None or value == "":
        return "this field is required" if f.required and f.default is None else ""
    if f.kind == "json":
        expected = tuple(JSON_TYPES[t] for t in f.json_types)
        if isinstance(value, bool) or not isinstance(value, expected):
            return f"expected {' or '.join(f.json_types)}"
        return ""
    expected = {"integer": int, "number": (int, float), "boolean": bool}.get(f.kind, str)
    if f.kind in ("integer", "number") and isinstance(value, bool):
        return f"expected {f.kind}"
    if not isinstance(value, expected):
        return f"expected {f.kind}"
    if f.kind == "url" and not value.startswith(("https://", "http://")):
        return "expected an http(s) URL"
    if f.choices and value not in {v for v, _ in f.choices}:
        return f"choose one of {[v for v, _ in f.choices]}"
    if f.min_value is not None and value < f.min_value:
        return f"at least {f.min_value:g}"
    if f.max_value is not None and value > f.max_value:
        return f"at most {f.max_value:g}"
    return ""
