"""API v1: unified records, sync runs and sync status (docs/api.md).

The routes of `records_router` and `syncs_router` take a connection token and see only that
token's connection: another connection's record or run id answers 404, exactly like an id that
does not exist. `admin_router` serves the same records and runs under
`/connections/{connection_id}/` to an admin key, which acts for any customer (the back office);
a connection token there is 403, whichever connection the path names.
"""

import logging
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import orjson
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from ninja import Field, Header, Query, Router, Schema
from pydantic import AwareDatetime, ConfigDict, create_model

from connections.api import connection_or_404
from connections.connectors.entities import ENTITIES, entity_path
from connections.connectors.schema import ENTITY_MODELS, UnifiedRecord
from core.api import json_bytes
from core.api_auth import actor_of, admin_key, connection_of, connection_token
from core.api_errors import error_responses
from core.api_idempotency import HEADER, idempotency_key_check, idempotent_call, json_response, request_fingerprint
from core.api_pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, cursor_encode, keyset_page
from core.api_types import Timestamp
from core.errors import CatalogError
from core.json_limits import TOO_DEEP_PLACEHOLDER, json_for_output
from syncs.models import SyncRun, Trigger
from syncs.selectors import (
    change_seq_now,
    record_get,
    record_list,
    sync_run_get,
    sync_run_list,
    sync_run_payload,
    sync_status,
)
from syncs.services import sync_run_cancel, sync_trigger

log = logging.getLogger(__name__)

records_router = Router(auth=connection_token, tags=["Records"])
syncs_router = Router(auth=connection_token, tags=["Syncs"])
admin_router = Router(auth=admin_key)

MAX_UUID = UUID(int=(1 << 128) - 1)  # after every record id: a poll cursor past the newest position


# --- record schemas: the unified models (docs/entities.md) plus what the API adds ---------------

def _record_out(model: type[UnifiedRecord]) -> type[UnifiedRecord]:
    """The stored record as the API serves it. The routes encode stored JSON themselves, so this
    is the contract in /api/v1/openapi.json, generated from the one definition the engine checks."""
    return create_model(
        model.__name__, __base__=model, __module__=__name__, __doc__=model.__doc__,
        id=(UUID, Field(description="Stable across re-syncs: derived from connection, entity and remote_id.")),
        modified_at=(AwareDatetime, Field(description="When PlantSync's copy last changed. It never goes backwards "
                                                      "along the list's order (the change feed, see `cursor`).")),
        deleted_at=(AwareDatetime | None, Field(description="Set when the record was deleted upstream.")),
        raw=(dict[str, Any] | None, Field(None, description="The upstream record, only with include_raw=true.")))


RECORD_SCHEMAS: dict[str, type[UnifiedRecord]] = {entity: _record_out(model) for entity, model in ENTITY_MODELS.items()}


class RecordListQuery(Schema):
    cursor: str | None = Field(None, description="`next_cursor` of the previous page. Keep the last one: polling "
                                                 "with it later returns every change made since, exactly once.")
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    modified_after: Timestamp | None = Field(
        None, description="Start the feed at the first change made at or after this time (inclusive). To poll, "
                          "prefer the last `next_cursor`: it is exact where a time is only as good as a clock.")
    include_deleted: bool = Field(False, description="Also records deleted upstream (with `deleted_at` set).")
    include_raw: bool = Field(False, description="Add each record's upstream form as `raw`.")


class RecordDetailQuery(Schema):
    include_raw: bool = False


def _record_item(record_id, data: dict, modified_at, deleted_at, raw=None, *, include_raw: bool) -> dict:
    item = {"id": record_id}
    item.update(data)
    item["id"] = record_id
    item["modified_at"] = modified_at
    item["deleted_at"] = deleted_at
    if include_raw:
        item["raw"] = raw
    return item


def _stored_json(text: str, *, what: str):
    """A JSON column read as text; deeper than orjson reads (only a row written behind the
    engine's back can be) becomes the placeholder instead of failing the page."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        log.warning("%s cannot be read back; rendered as a placeholder", what)
        return dict(TOO_DEEP_PLACEHOLDER)


def _records_bytes(body: dict, items: list[dict]) -> bytes:
    """The response, encoded. Checking every record's depth would cost every page, so only a
    page the encoder refuses (orjson stops at 254 levels) is rendered field by field."""
    try:
        return json_bytes(body)
    except TypeError:
        for item in items:
            for name, value in item.items():
                item[name] = json_for_output(value, what=f"record {item['id']} {name}")
        return json_bytes(body)


def records_page(*, connection, entity: str, params: RecordListQuery) -> HttpResponse:
    """One page of a connection's change feed of `entity`, for either kind of token."""
    records = record_list(connection=connection, entity=entity,
                          modified_after=params.modified_after, include_deleted=params.include_deleted)
    # The JSON columns come as text and are parsed by orjson: several times faster than
    # JSONField's json.loads, and most of a page's cost.
    records = records.annotate(data_text=Cast("data", TextField()))
    fields = ["id", "data_text", "modified_at", "deleted_at"]
    if params.include_raw:
        records = records.annotate(raw_text=Cast("raw", TextField()))
        fields.append("raw_text")
    kind = f"changes:{entity}"
    # Read before the page: a change committed between the two reads then lies after this
    # position, where the client will find it; read after, it could fall behind it.
    start = None if params.cursor else change_seq_now(connection=connection, entity=entity)
    page = keyset_page(records, kind=kind, fields=("change_seq", "id"), descending=False,
                       cursor=params.cursor, page_size=params.page_size, values=fields)
    poll_cursor = page.last_cursor or params.cursor or cursor_encode(kind=kind, values=[start, MAX_UUID])
    data = [_record_item(row[0], _stored_json(row[1], what=f"record {row[0]} data"), row[2], row[3],
                         _stored_json(row[4], what=f"record {row[0]} raw") if params.include_raw else None,
                         include_raw=params.include_raw)
            for row in page.items]
    body = {"data": data, "next_cursor": page.next_cursor, "poll_cursor": poll_cursor}
    return HttpResponse(_records_bytes(body, data), content_type="application/json")


def record_one(*, connection, entity: str, record_id: UUID, params: RecordDetailQuery) -> HttpResponse:
    """One record of the connection (deleted ones too); another connection's is 404 like none."""
    record = record_get(connection=connection, entity=entity, record_id=record_id)
    if record is None:
        label = entity.replace("_", " ")
        raise CatalogError("NOT_FOUND", f"No {label[:-1] if label.endswith('s') else label} {record_id}.")
    item = _record_item(record.pk, record.data, record.modified_at, record.deleted_at, record.raw,
                        include_raw=params.include_raw)
    return HttpResponse(_records_bytes(item, [item]), content_type="application/json")


def _page_schema(schema: type[UnifiedRecord]) -> type[Schema]:
    return type(f"{schema.__name__}Page", (Schema,), {
        "__annotations__": {"data": list[schema], "next_cursor": str | None, "poll_cursor": str},
        "next_cursor": Field(description="Pass as `cursor` for the next page; null on the last page."),
        "poll_cursor": Field(description="The feed's position after this page, on every page: pass it as `cursor` "
                                         "later to get exactly the changes made since."),
    })


FEED_DESCRIPTION = (
    "oldest change first, in the order the changes were committed. A record that changes while you page moves "
    "to the end, so you get its new version; a record that does not change is never skipped or repeated. The last "
    "`next_cursor` (or the cursor of the last page) polled later returns exactly the changes made since "
    "(docs/api.md, the change feed).")


def _record_routes(entity: str, page_schema: type[Schema]) -> None:
    """The entity's list and detail under the token's own connection: `/{path}`."""
    schema, path, label = RECORD_SCHEMAS[entity], entity_path(entity), entity.replace("_", " ")

    def list_records(request: HttpRequest, params: Query[RecordListQuery]):
        return records_page(connection=connection_of(request), entity=entity, params=params)

    def get_record(request: HttpRequest, record_id: UUID, params: Query[RecordDetailQuery]):
        return record_one(connection=connection_of(request), entity=entity, record_id=record_id, params=params)

    list_records.__name__ = f"list_{entity}"
    get_record.__name__ = f"get_{entity}"
    records_router.get(
        f"/{path}", response={200: page_schema, **error_responses()}, operation_id=f"list_{entity}",
        summary=f"List {label}", description=f"The connection's {label} as a change feed: {FEED_DESCRIPTION}",
    )(list_records)
    records_router.get(
        f"/{path}/{{record_id}}", response={200: schema, **error_responses()}, operation_id=f"get_{entity}",
        summary=f"Get one of the {label}")(get_record)


def _connection_record_routes(entity: str, page_schema: type[Schema]) -> None:
    """The same list and detail under any connection, for an admin key: `/connections/{connection_id}/{path}`."""
    schema, path, label = RECORD_SCHEMAS[entity], entity_path(entity), entity.replace("_", " ")

    def list_connection_records(request: HttpRequest, connection_id: UUID, params: Query[RecordListQuery]):
        return records_page(connection=connection_or_404(connection_id), entity=entity, params=params)

    def get_connection_record(request: HttpRequest, connection_id: UUID, record_id: UUID,
                              params: Query[RecordDetailQuery]):
        return record_one(connection=connection_or_404(connection_id), entity=entity, record_id=record_id,
                          params=params)

    list_connection_records.__name__ = f"list_connection_{entity}"
    get_connection_record.__name__ = f"get_connection_{entity}"
    admin_router.get(
        f"/connections/{{connection_id}}/{path}", response={200: page_schema, **error_responses()},
        operation_id=f"list_connection_{entity}", summary=f"List a connection's {label}", tags=["Records (admin)"],
        description=f"Any connection's {label}, for an admin key, with the same filters, cursors and pages as "
                    f"`GET /{path}` with that connection's token: {FEED_DESCRIPTION}")(list_connection_records)
    admin_router.get(
        f"/connections/{{connection_id}}/{path}/{{record_id}}", response={200: schema, **error_responses()},
        operation_id=f"get_connection_{entity}", summary=f"Get one of a connection's {label}",
        tags=["Records (admin)"])(get_connection_record)


for _entity in ENTITIES:
    # One page schema per entity, shared by both lists: one component in the OpenAPI document.
    _page = _page_schema(RECORD_SCHEMAS[_entity])
    _record_routes(_entity, _page)
    _connection_record_routes(_entity, _page)


# --- sync runs ---------------------------------------------------------------------------------

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ModeName = Literal["incremental", "full"]
TriggerName = Literal["schedule", "dashboard", "api", "cli", "retry"]
RunPriority = Literal["manual", "scheduled"]


class RunCounts(Schema):
    fetched: int
    created: int
    updated: int
    unchanged: int
    deleted: int
    failed_records: int


class RunError(Schema):
    code: str
    message: str
    details: dict[str, Any]


class RunWaiting(Schema):
    reason: str = Field(description='Why the queued run is held back, e.g. "rate limited", or "waiting for a '
                                    'slot on this connection" (SYNC_MAX_RUNS_PER_CONNECTION runs of it are running).')
    until: datetime | None = Field(description="It starts (or goes on from its checkpoint) at this time; null "
                                               "while it waits for a slot.")


class RunOut(Schema):
    id: UUID
    connection_id: UUID
    entity: str
    mode: ModeName
    trigger: TriggerName
    status: RunStatus
    requested_by: str
    request_id: str = Field(description="The X-Request-ID of the request that triggered the run.")
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    pages: int
    total_records: int | None = Field(None, description="The upstream's count of records for this read, "
                                                        "where it reports one; null otherwise.")
    percent_done: int | None = Field(None, description="counts.fetched as a percentage of total_records "
                                                       "(0-100); null when the upstream reports no total.")
    counts: RunCounts
    cursor_from: Any = None
    cursor_to: Any = None
    resumed_from: UUID | None
    attempt: int = Field(description="1, or n+1 for the automatic retry of a run that failed on try n "
                                     "(at most SYNC_AUTO_RETRIES retries).")
    priority: RunPriority = Field(description="manual runs (dashboard, API, CLI, a retry by hand) start ahead of "
                                              "scheduled ones, and a scheduled run gives its worker to a waiting "
                                              "manual run between pages.")
    yields: int = Field(description="Times the run gave its worker to waiting work between pages and went on "
                                    "later from its checkpoint, its counts intact.")
    waiting: RunWaiting | None = Field(description="Set while a queued run waits for a time, or for a slot on its "
                                                   "connection, before it starts.")
    cancel_requested: bool
    error: RunError | None


class TriggeredRunOut(RunOut):
    created: bool = Field(description="True if this request queued the run; false if an active run already "
                                      "covered it and is returned instead.")


class SyncTriggerIn(Schema):
    model_config = ConfigDict(extra="forbid")

    entities: list[str] | None = Field(None, description="Entities to sync, e.g. purchase_orders (or "
                                                         "purchase-orders); omitted or empty: all enabled ones.")
    mode: ModeName = Field("incremental", description="incremental: changes since the last success; "
                                                      "full: everything in the history window, detecting deletions.")


class SyncTriggerOut(Schema):
    runs: list[TriggeredRunOut]


class RunPage(Schema):
    data: list[RunOut]
    next_cursor: str | None


class RunListQuery(Schema):
    cursor: str | None = None
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    status: RunStatus | None = None
    entity: Literal[ENTITIES] | None = None  # type: ignore[valid-type]
    mode: ModeName | None = None
    trigger: TriggerName | None = None


class LastError(Schema):
    code: str
    message: str


class EntityStatus(Schema):
    entity: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "never_synced"] = Field(
        description="The active run's status, else the last run's.")
    active_run_id: UUID | None
    last_run_id: UUID | None
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    next_scheduled_at: datetime | None = Field(description="Null while the connection is not being scheduled.")
    consecutive_failures: int
    record_count: int
    last_error: LastError | None = Field(None, description="The last failure, until a success clears it.")


class SyncStatusOut(Schema):
    connection_id: UUID
    connection_status: str
    entities: list[EntityStatus]


def run_out(run: SyncRun) -> dict:
    payload = sync_run_payload(run)
    payload["cancel_requested"] = run.cancel_requested
    if payload["error"] is not None:
        payload["error"].setdefault("details", {})
    return payload


def _entities_normalize(entities: list[str] | None) -> list[str] | None:
    return [entity.replace("-", "_") for entity in entities] if entities else None


IDEMPOTENCY_KEY_DESCRIPTION = ("Makes retries safe: the same key with the same body within 24 h returns the first "
                               "answer again; with a different body, 422 IDEMPOTENCY_KEY_REUSED.")
TRIGGER_DESCRIPTION = """Queues a run per entity, or returns the run already active for it (`created: false`).

A full re-sync of an entity whose incremental run is active is refused with 409
SYNC_IN_PROGRESS; a paused or disconnected connection answers 409 CONNECTION_NOT_ACTIVE."""


def syncs_trigger_response(request: HttpRequest, *, connection, payload: SyncTriggerIn,
                           idempotency_key: str | None) -> HttpResponse:
    """Triggers the connection's syncs for the caller (whose name the runs and audit keep),
    once per Idempotency-Key: the key is the caller's, the request its path and body."""
    key = idempotency_key_check(idempotency_key)
    body = payload.model_dump()
    actor = actor_of(request)

    def call() -> tuple[int, dict]:
        triggered = sync_trigger(connection=connection, entities=_entities_normalize(payload.entities),
                                 mode=payload.mode, trigger=Trigger.API, requested_by=actor.name,
                                 request_id=actor.request_id, actor=actor)
        runs = [{**run_out(t.run), "created": t.created} for t in triggered]
        return 202, json_bytes(SyncTriggerOut(runs=runs).model_dump())

    status, response_body, replayed = idempotent_call(
        scope=request.auth.scope, key=key, fingerprint=request_fingerprint(method="POST", path=request.path, body=body),
        call=call)
    return json_response(status, response_body, replayed=replayed)


def runs_page(*, connection, params: RunListQuery) -> dict:
    """One page of the connection's runs, newest first."""
    runs = sync_run_list(connection=connection, status=params.status, entity=params.entity, trigger=params.trigger)
    if params.mode:
        runs = runs.filter(mode=params.mode)
    page = keyset_page(runs, kind="syncs", fields=("queued_at", "id"), descending=True, cursor=params.cursor,
                       page_size=params.page_size)
    return {"data": [run_out(run) for run in page.items], "next_cursor": page.next_cursor}


@syncs_router.post("/syncs", response={202: SyncTriggerOut, **error_responses()}, operation_id="trigger_syncs",
                   summary="Trigger syncs", description=TRIGGER_DESCRIPTION)
def trigger_syncs(request: HttpRequest, payload: SyncTriggerIn,
                  idempotency_key: str | None = Header(None, alias=HEADER, description=IDEMPOTENCY_KEY_DESCRIPTION)):
    return syncs_trigger_response(request, connection=connection_of(request), payload=payload,
                                  idempotency_key=idempotency_key)


@syncs_router.get("/syncs", response={200: RunPage, **error_responses()}, operation_id="list_syncs",
                  summary="List sync runs")
def list_syncs(request: HttpRequest, params: Query[RunListQuery]):
    """The connection's runs, newest first."""
    return runs_page(connection=connection_of(request), params=params)


@admin_router.post("/connections/{connection_id}/syncs", response={202: SyncTriggerOut, **error_responses()},
                   operation_id="trigger_connection_syncs", summary="Trigger a connection's syncs",
                   tags=["Syncs (admin)"],
                   description=TRIGGER_DESCRIPTION + "\n\nFor an admin key, on any connection: the runs' "
                                                     "`requested_by` and the audit name the key.")
def trigger_connection_syncs(request: HttpRequest, connection_id: UUID, payload: SyncTriggerIn,
                             idempotency_key: str | None = Header(None, alias=HEADER,
                                                                  description=IDEMPOTENCY_KEY_DESCRIPTION)):
    return syncs_trigger_response(request, connection=connection_or_404(connection_id), payload=payload,
                                  idempotency_key=idempotency_key)


@admin_router.get("/connections/{connection_id}/syncs", response={200: RunPage, **error_responses()},
                  operation_id="list_connection_syncs", summary="List a connection's sync runs",
                  tags=["Syncs (admin)"])
def list_connection_syncs(request: HttpRequest, connection_id: UUID, params: Query[RunListQuery]):
    """Any connection's runs, newest first, for an admin key: the same filters and cursors as `GET /syncs`."""
    return runs_page(connection=connection_or_404(connection_id), params=params)


def _run_or_404(request: HttpRequest, run_id: UUID) -> SyncRun:
    run = sync_run_get(connection=connection_of(request), run_id=run_id)
    if run is None:
        raise CatalogError("NOT_FOUND", f"No sync run {run_id}.")
    return run


@syncs_router.get("/syncs/{run_id}", response={200: RunOut, **error_responses()}, operation_id="get_sync",
                  summary="Get a sync run")
def get_sync(request: HttpRequest, run_id: UUID):
    return run_out(_run_or_404(request, run_id))


@syncs_router.post("/syncs/{run_id}/cancel", response={200: RunOut, **error_responses()}, operation_id="cancel_sync",
                   summary="Cancel a sync run")
def cancel_sync(request: HttpRequest, run_id: UUID):
    """A queued run is cancelled at once; a running one stops after its current page
    (`cancel_requested: true` until then). A finished run is returned unchanged."""
    run = sync_run_cancel(run=_run_or_404(request, run_id), actor=actor_of(request))
    return run_out(run)


@syncs_router.get("/sync-status", response={200: SyncStatusOut, **error_responses()}, operation_id="get_sync_status",
                  summary="Sync status per entity")
def get_sync_status(request: HttpRequest):
    connection = connection_of(request)
    return {"connection_id": connection.pk, "connection_status": connection.status,
            "entities": sync_status(connection=connection)}

