"""API v1: the token's own connection, and the admin routes for connections and connectors.

`GET /connection` takes a connection token; everything else here takes an admin key.
Credentials go in (create, update) and never come out; a connection's token is returned
once, on creation and on rotation.
"""

import logging
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict

from connections.connectors.registry import connector_catalogue
from connections.models import Connection
from connections.selectors import connection_get, connection_list
from connections.services import connection_probe, connection_token_rotate
from core.api_auth import actor_of, admin_key, connection_of, connection_token
from core.api_errors import error_responses
from core.api_pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, keyset_page
from core.api_secrets import secret_response
from core.api_types import Id
from core.errors import CatalogError
from core.json_limits import json_for_output
from syncs.lifecycle import (
    connection_create,
    connection_delete,
    connection_disconnect,
    connection_pause,
    connection_resume,
    connection_update,
)

log = logging.getLogger(__name__)

connection_router = Router(auth=connection_token, tags=["Connection"])
admin_router = Router(auth=admin_key, tags=["Connections (admin)"])

ConnectionStatus = Literal["pending", "active", "auth_failed", "unreachable", "paused", "disconnected"]


class CustomerOut(Schema):
    id: int
    name: str
    external_id: str | None


class ConnectionOut(Schema):
    id: UUID
    customer: CustomerOut
    connector: str
    name: str
    status: ConnectionStatus
    status_reason: str
    status_changed_at: datetime | None
    config: dict[str, Any] = Field(description="Non-secret settings. Credentials are never returned.")
    entities: list[str]
    sync_interval_minutes: int
    history_days: int
    metadata: dict[str, Any]
    token_prefix: str = Field(description="The visible start of the connection's token.")
    paused_at: datetime | None
    disconnected_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ConnectionCreatedOut(ConnectionOut):
    token: str = Field(description="The connection token (ctk_...). Shown only in this response: store it.")


class TokenOut(Schema):
    token: str = Field(description="The new connection token; the previous one stopped working. Shown once.")
    token_prefix: str


class ConnectionPage(Schema):
    data: list[ConnectionOut]
    next_cursor: str | None


class CustomerIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    external_id: str | None = Field(None, min_length=1, max_length=200,
                                    description="Your own id for the customer; an existing customer with it is reused.")


class ConnectionCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    customer: CustomerIn
    connector: str = Field(description="A connector key from GET /connectors.")
    name: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict, description="The connector's config fields.")
    credentials: dict[str, Any] = Field(default_factory=dict, description="The connector's credential fields; "
                                                                          "checked upstream before anything is saved.")
    entities: list[str] | None = Field(None, description="Entities to sync; omitted: all the connector supports.")
    sync_interval_minutes: int = Field(60, ge=5, le=10080)
    history_days: int = Field(90, ge=1, le=3650)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ConnectionUpdateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    config: dict[str, Any] | None = Field(None, description="Merged into the current config.")
    credentials: dict[str, Any] | None = Field(None, description="Replaces the credentials; checked upstream first.")
    entities: list[str] | None = None
    sync_interval_minutes: int | None = Field(None, ge=5, le=10080)
    history_days: int | None = Field(None, ge=1, le=3650)


class PauseIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=500)


class ConnectionListQuery(Schema):
    cursor: str | None = None
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    status: ConnectionStatus | None = None
    connector: str | None = None
    customer_id: Id | None = None
    customer_external_id: str | None = None


class EntityTestOut(Schema):
    ok: bool
    outcome: Literal["ok", "no_permission", "not_found", "failed"]
    code: str | None = Field(None, description="The catalogued error code when the entity could not be read.")
    message: str | None = None


class ConnectionTestOut(Schema):
    ok: bool = Field(description="Whether the credentials passed the check.")
    code: str | None = Field(None, description="The catalogued error code when the check failed.")
    message: str | None = None
    details: dict[str, Any] | None = None
    entities: dict[str, EntityTestOut] = Field(
        default_factory=dict, description="Per enabled entity, after a passing credential check: whether one "
                                          "record could be read. Empty when the credentials failed.")


class ChoiceOut(Schema):
    value: str
    label: str


class ConfigFieldOut(Schema):
    name: str
    label: str
    kind: str
    required: bool
    default: Any = None
    help: str
    example: str = Field("", description='An example value, e.g. "https://erp.example.com/".')
    choices: list[ChoiceOut] = Field(default_factory=list, description="When set, the only values accepted.")
    min_value: float | None = None
    max_value: float | None = None
    json_types: list[str] | None = Field(None, description="For json fields: the JSON types accepted "
                                                           "(object, array, number, string).")


class ConnectorOut(Schema):
    key: str
    name: str
    category: str
    description: str
    entities: list[str]
    config_fields: list[ConfigFieldOut]
    credential_fields: list[ConfigFieldOut]


class ConnectorList(Schema):
    data: list[ConnectorOut]


def connection_out(connection: Connection) -> dict:
    customer = connection.customer
    return {
        "id": connection.pk,
        "customer": {"id": customer.pk, "name": customer.name, "external_id": customer.external_id},
        **{name: getattr(connection, name) for name in (
            "connector", "name", "status", "status_reason", "status_changed_at", "entities",
            "sync_interval_minutes", "history_days", "token_prefix", "paused_at", "disconnected_at",
            "created_at", "updated_at")},
        # A row stored before the JSON limits must not break every list it appears in.
        **{name: json_for_output(getattr(connection, name), what=f"connection {connection.pk} {name}")
           for name in ("config", "metadata")},
    }


# --- the token's own connection --------------------------------------------------------------

@connection_router.get("/connection", response={200: ConnectionOut, **error_responses()},
                       operation_id="get_own_connection", summary="The token's connection")
def get_own_connection(request: HttpRequest):
    return connection_out(connection_of(request))


# --- admin: connectors -------------------------------------------------------------------------

@admin_router.get("/connectors", response={200: ConnectorList, **error_responses()}, operation_id="list_connectors",
                  summary="The connectors catalogue", tags=["Connectors (admin)"])
def list_connectors(request: HttpRequest):
    """Each connector's entities and the config and credential fields it takes."""
    return {"data": connector_catalogue()}


# --- admin: connections ------------------------------------------------------------------------

def connection_or_404(connection_id: UUID) -> Connection:
    """Any connection, for an admin key; an unknown id is 404 NOT_FOUND."""
    connection = connection_get(connection_id=connection_id)
    if connection is None:
        raise CatalogError("NOT_FOUND", f"No connection {connection_id}.")
    return connection


# Credentials the upstream refuses were the client's input: a 400 naming the field, not a 502.
_CREDENTIAL_CODES = ("UPSTREAM_AUTHENTICATION_FAILED", "UPSTREAM_PERMISSION_DENIED")


@contextmanager
def _connector_input():
    """Errors in what the client sent, found while the connector checks it, are client errors:
    credentials the upstream refuses (400 VALIDATION_FAILED with the upstream code in details),
    and config values the connector chokes on (a malformed date, an out-of-range number).
    An upstream that cannot be reached stays 502 UPSTREAM_*: retrying later may work."""
    try:
        yield
    except CatalogError as exc:
        if exc.code not in _CREDENTIAL_CODES:
            raise
        raise CatalogError("VALIDATION_FAILED", f"The upstream system refused the credentials: {exc.message}",
                           details={"fields": {"credentials": exc.message}, "upstream_code": exc.code}) from None
    except (ValueError, TypeError, OverflowError) as exc:
        log.warning("connector refused the config it was given: %s: %s", type(exc).__name__, exc)
        raise CatalogError("VALIDATION_FAILED", "The connector cannot use this config.",
                           details={"fields": {"config": "a value is malformed or out of range"}}) from None


@admin_router.get("/connections", response={200: ConnectionPage, **error_responses()}, operation_id="list_connections",
                  summary="List connections")
def list_connections(request: HttpRequest, params: Query[ConnectionListQuery]):
    """Newest first, across customers."""
    connections = connection_list(status=params.status, connector=params.connector, customer_id=params.customer_id,
                                  customer_external_id=params.customer_external_id)
    page = keyset_page(connections, kind="connections", fields=("created_at", "id"), descending=True,
                       cursor=params.cursor, page_size=params.page_size)
    return {"data": [connection_out(c) for c in page.items], "next_cursor": page.next_cursor}


@admin_router.post("/connections", response={201: ConnectionCreatedOut, **error_responses(upstream=True)},
                   operation_id="create_connection", summary="Create a connection")
@secret_response
def create_connection(request: HttpRequest, payload: ConnectionCreateIn):
    """Validates the config, checks the credentials upstream, saves, queues the initial full sync
    and returns the token once. Credentials the upstream refuses: 400 VALIDATION_FAILED with
    `details.upstream_code`; an upstream that cannot be reached: 502 with its UPSTREAM_* code."""
    with _connector_input():
        connection, token = connection_create(
            customer_name=payload.customer.name, customer_external_id=payload.customer.external_id,
            connector=payload.connector, name=payload.name, config=payload.config,
            credentials=payload.credentials, entities=[e.replace("-", "_") for e in payload.entities or []] or None,
            sync_interval_minutes=payload.sync_interval_minutes, history_days=payload.history_days,
            metadata=payload.metadata, actor=actor_of(request))
    return Status(201, {**connection_out(connection), "token": token})


@admin_router.get("/connections/{connection_id}", response={200: ConnectionOut, **error_responses()},
                  operation_id="get_connection", summary="Get a connection")
def get_connection(request: HttpRequest, connection_id: UUID):
    return connection_out(connection_or_404(connection_id))


@admin_router.patch("/connections/{connection_id}", response={200: ConnectionOut, **error_responses(upstream=True)},
                    operation_id="update_connection", summary="Update a connection")
def update_connection(request: HttpRequest, connection_id: UUID, payload: ConnectionUpdateIn):
    """Changes only the fields sent. New credentials are checked upstream first and, when good,
    lift an `auth_failed` status."""
    connection = connection_or_404(connection_id)
    fields = payload.model_dump(exclude_unset=True)
    if fields.get("entities") is not None:
        fields["entities"] = [e.replace("-", "_") for e in fields["entities"]]
    with _connector_input():
        connection = connection_update(connection=connection, actor=actor_of(request), **fields)
    return connection_out(connection)


@admin_router.delete("/connections/{connection_id}", response={204: None, **error_responses()},
                     operation_id="delete_connection", summary="Delete a connection")
def delete_connection(request: HttpRequest, connection_id: UUID):
    """Deletes the connection with its records, runs and connection-scoped webhook endpoints.
    To stop syncing but keep the data, disconnect instead."""
    connection_delete(connection=connection_or_404(connection_id), actor=actor_of(request))
    return Status(204, None)


@admin_router.post("/connections/{connection_id}/pause", response={200: ConnectionOut, **error_responses()},
                   operation_id="pause_connection", summary="Pause a connection")
def pause_connection(request: HttpRequest, connection_id: UUID, payload: PauseIn | None = None):
    """Stops scheduling and cancels queued runs; running runs stop after their current page."""
    connection = connection_or_404(connection_id)
    reason = payload.reason if payload else ""
    return connection_out(connection_pause(connection=connection, actor=actor_of(request), reason=reason))


@admin_router.post("/connections/{connection_id}/resume", response={200: ConnectionOut, **error_responses()},
                   operation_id="resume_connection", summary="Resume a paused connection")
def resume_connection(request: HttpRequest, connection_id: UUID):
    """Schedules every entity at once to catch up; a connection that is not paused is returned unchanged."""
    connection = connection_or_404(connection_id)
    return connection_out(connection_resume(connection=connection, actor=actor_of(request)))


@admin_router.post("/connections/{connection_id}/disconnect", response={200: ConnectionOut, **error_responses()},
                   operation_id="disconnect_connection", summary="Disconnect a connection")
def disconnect_connection(request: HttpRequest, connection_id: UUID):
    """Revokes the token and stops schedules; the synced data stays until the connection is deleted."""
    connection = connection_or_404(connection_id)
    return connection_out(connection_disconnect(connection=connection, actor=actor_of(request)))


@admin_router.post("/connections/{connection_id}/rotate-token", response={200: TokenOut, **error_responses()},
                   operation_id="rotate_connection_token", summary="Rotate a connection's token")
@secret_response
def rotate_connection_token(request: HttpRequest, connection_id: UUID):
    """Issues a new token (shown once); the previous one stops working at once."""
    connection = connection_or_404(connection_id)
    token = connection_token_rotate(connection=connection, actor=actor_of(request))
    return {"token": token, "token_prefix": connection.token_prefix}


@admin_router.post("/connections/{connection_id}/test", response={200: ConnectionTestOut, **error_responses()},
                   operation_id="test_connection",
                   summary="Check a connection's credentials and read access to each entity upstream")
def test_connection(request: HttpRequest, connection_id: UUID):
    """Runs the connector's credential check now, then reads one record of each enabled entity.
    `ok` is the credential check's outcome (else its error code); `entities` says per entity
    whether it can be read (`ok`, `no_permission`, `not_found` or `failed`, with the error)."""
    return connection_probe(connection=connection_or_404(connection_id))
