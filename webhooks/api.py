"""API v1 admin routes for webhooks (docs/webhooks.md): endpoints, test sends, secret
rotation, deliveries, resend and replay. All take an admin key.

A signing secret is returned once, when the endpoint is created or its secret rotated.
"""

import logging
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict

from connections.models import Connection
from core.api_auth import actor_of, admin_key
from core.api_errors import error_responses
from core.api_pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, keyset_page
from core.api_secrets import secret_response
from core.api_types import Id, Timestamp
from core.errors import CatalogError
from core.json_limits import json_for_output
from webhooks import selectors, services
from webhooks.models import Delivery, Endpoint

log = logging.getLogger(__name__)

router = Router(auth=admin_key, tags=["Webhooks (admin)"])
# Shown in place of event types that cannot be read (never a real type, so it matches no event).
EVENT_TYPES_PLACEHOLDER = "_error: stored value is not a list of event types"

DeliveryStatus = Literal["pending", "succeeded", "failed"]
EventType = Literal[services.EVENT_TYPES]  # type: ignore[valid-type]


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    event_types: list[str] = Field(description="Empty: every event type.")
    connection_id: UUID | None = Field(description="Only this connection's events; null: every connection.")
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str
    failing_since: datetime | None
    last_success_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="During a secret rotation, until when deliveries are also signed with the previous secret.")
    deliveries_24h: int
    succeeded_24h: int
    failed_24h: int
    pending_24h: int
    success_rate_24h: float | None = Field(description="Succeeded / finished in the last 24 h; null if none finished.")
    created_at: datetime
    updated_at: datetime


class EndpointCreatedOut(EndpointOut):
    secret: str = Field(description="The signing secret (whsec_...). Shown only in this response: store it.")


class SecretOut(Schema):
    secret: str = Field(description="The new signing secret, shown once.")
    previous_secret_expires_at: datetime | None = Field(
        description="The previous secret keeps signing (beside the new one) until then.")


class EndpointPage(Schema):
    data: list[EndpointOut]
    next_cursor: str | None


class EndpointCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="An https:// URL on a public address.")
    description: str = Field("", max_length=500)
    event_types: list[EventType] = Field(default_factory=list, description="Empty: every event type.")
    connection_id: UUID | None = Field(None, description="Only this connection's events; omitted: every connection.")


class EndpointUpdateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=2000)
    description: str | None = Field(None, max_length=500)
    event_types: list[EventType] | None = None
    connection_id: UUID | None = Field(None, description="null makes the endpoint global; omit to keep it.")
    enabled: bool | None = Field(None, description="true re-enables (with a fresh failure window); false disables.")


class EndpointListQuery(Schema):
    cursor: str | None = None
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    connection_id: UUID | None = None
    enabled: bool | None = None


class DeliveryOut(Schema):
    id: int
    endpoint_id: int
    event_id: UUID
    event_type: str
    connection_id: UUID | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    last_latency_ms: int | None
    created_at: datetime
    delivered_at: datetime | None


class AttemptOut(Schema):
    number: int
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str
    remote_address: str
    response_snippet: str


class DeliveryDetailOut(DeliveryOut):
    payload: dict[str, Any] = Field(description="The event exactly as sent.")
    attempt_log: list[AttemptOut] = Field(description="Every HTTP try, oldest first.")


class DeliveryPage(Schema):
    data: list[DeliveryOut]
    next_cursor: str | None


class DeliveryListQuery(Schema):
    cursor: str | None = None
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    status: DeliveryStatus | None = None


class ReplayIn(Schema):
    model_config = ConfigDict(extra="forbid")

    since: Timestamp = Field(description="Resend every failed delivery of the endpoint created at or after this time.")


class ReplayOut(Schema):
    replayed: int


class TestSentOut(Schema):
    event_id: UUID
    delivery_ids: list[int]


def _event_types_out(endpoint: Endpoint) -> list[str]:
    """The stored list, or a placeholder when a row written behind the services' back holds
    something else: one broken row must not fail every list it is in."""
    event_types = endpoint.event_types
    if isinstance(event_types, list) and all(isinstance(t, str) for t in event_types):
        return event_types
    log.warning("webhook endpoint %s: stored event_types is not a list of names; rendered as a placeholder",
                endpoint.pk)
    return [EVENT_TYPES_PLACEHOLDER]


def endpoint_out(endpoint: Endpoint) -> dict:
    data = {name: getattr(endpoint, name) for name in (
        "id", "url", "description", "connection_id", "enabled", "disabled_at", "disabled_reason",
        "failing_since", "last_success_at", "previous_secret_expires_at", "created_at", "updated_at")}
    data["event_types"] = _event_types_out(endpoint)
    for name in ("deliveries_24h", "succeeded_24h", "failed_24h", "pending_24h"):
        data[name] = getattr(endpoint, name, 0) or 0
    data["success_rate_24h"] = getattr(endpoint, "success_rate_24h", None)
    return data


def delivery_out(delivery: Delivery) -> dict:
    return {"id": delivery.pk, "endpoint_id": delivery.endpoint_id, "event_id": delivery.event_id,
            "event_type": delivery.event.type, "connection_id": delivery.event.connection_id,
            **{name: getattr(delivery, name) for name in (
                "status", "attempts", "next_attempt_at", "last_status_code", "last_error", "last_latency_ms",
                "created_at", "delivered_at")}}


def _endpoint_or_404(endpoint_id: int) -> Endpoint:
    # endpoint_get raises NOT_FOUND itself; the listing query adds the 24 h counts.
    endpoint = selectors.endpoint_list().filter(pk=endpoint_id).first()
    if endpoint is None:
        raise CatalogError("NOT_FOUND", f"No webhook endpoint {endpoint_id}.")
    return endpoint


def _connection_for(connection_id: UUID | None) -> Connection | None:
    if connection_id is None:
        return None
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        raise CatalogError("VALIDATION_FAILED", f"No connection {connection_id}.",
                           details={"fields": {"connection_id": "no such connection"}})
    return connection


# --- endpoints ---------------------------------------------------------------------------------

@router.get("/webhook-endpoints", response={200: EndpointPage, **error_responses()},
            operation_id="list_webhook_endpoints", summary="List webhook endpoints")
def list_webhook_endpoints(request: HttpRequest, params: Query[EndpointListQuery]):
    """Newest first, with the last 24 hours of deliveries counted."""
    endpoints = selectors.endpoint_list(enabled=params.enabled)
    if params.connection_id is not None:
        endpoints = endpoints.filter(connection_id=params.connection_id)
    page = keyset_page(endpoints, kind="webhook-endpoints", fields=("created_at", "id"), descending=True,
                       cursor=params.cursor, page_size=params.page_size)
    return {"data": [endpoint_out(e) for e in page.items], "next_cursor": page.next_cursor}


@router.post("/webhook-endpoints", response={201: EndpointCreatedOut, **error_responses()},
             operation_id="create_webhook_endpoint", summary="Create a webhook endpoint")
@secret_response
def create_webhook_endpoint(request: HttpRequest, payload: EndpointCreateIn):
    """Returns the signing secret once."""
    endpoint, secret = services.endpoint_create(
        url=payload.url, actor=actor_of(request), description=payload.description,
        event_types=payload.event_types, connection=_connection_for(payload.connection_id))
    return Status(201, {**endpoint_out(_endpoint_or_404(endpoint.pk)), "secret": secret})


@router.get("/webhook-endpoints/{endpoint_id}", response={200: EndpointOut, **error_responses()},
            operation_id="get_webhook_endpoint", summary="Get a webhook endpoint")
def get_webhook_endpoint(request: HttpRequest, endpoint_id: Id):
    return endpoint_out(_endpoint_or_404(endpoint_id))


@router.patch("/webhook-endpoints/{endpoint_id}", response={200: EndpointOut, **error_responses()},
              operation_id="update_webhook_endpoint", summary="Update a webhook endpoint")
def update_webhook_endpoint(request: HttpRequest, endpoint_id: Id, payload: EndpointUpdateIn):
    """Changes only the fields sent; `enabled` re-enables or disables the endpoint."""
    endpoint = _endpoint_or_404(endpoint_id)
    actor = actor_of(request)
    sent = payload.model_fields_set
    changes: dict[str, Any] = {name: getattr(payload, name) for name in ("url", "description", "event_types")
                               if name in sent and getattr(payload, name) is not None}
    if "connection_id" in sent:
        changes["connection"] = _connection_for(payload.connection_id)
    services.endpoint_update(endpoint=endpoint, actor=actor, **changes)
    if payload.enabled is True and not endpoint.enabled:
        services.endpoint_enable(endpoint=endpoint, actor=actor)
    elif payload.enabled is False and endpoint.enabled:
        services.endpoint_disable(endpoint=endpoint, actor=actor)
    return endpoint_out(_endpoint_or_404(endpoint_id))


@router.delete("/webhook-endpoints/{endpoint_id}", response={204: None, **error_responses()},
               operation_id="delete_webhook_endpoint", summary="Delete a webhook endpoint")
def delete_webhook_endpoint(request: HttpRequest, endpoint_id: Id):
    """Deletes the endpoint: it is gone from every list and nothing more is sent to it at once; its
    deliveries and attempts are deleted in the background."""
    services.endpoint_delete(endpoint=_endpoint_or_404(endpoint_id), actor=actor_of(request))
    return Status(204, None)


@router.post("/webhook-endpoints/{endpoint_id}/test", response={202: TestSentOut, **error_responses()},
             operation_id="test_webhook_endpoint", summary="Send a test event")
def test_webhook_endpoint(request: HttpRequest, endpoint_id: Id):
    """Queues a `webhook.test` event to this endpoint only (even a disabled one); follow the delivery."""
    event = services.endpoint_send_test(endpoint=_endpoint_or_404(endpoint_id), actor=actor_of(request))
    return Status(202, {"event_id": event.id, "delivery_ids": list(event.deliveries.values_list("pk", flat=True))})


@router.post("/webhook-endpoints/{endpoint_id}/rotate-secret", response={200: SecretOut, **error_responses()},
             operation_id="rotate_webhook_secret", summary="Rotate the signing secret")
@secret_response
def rotate_webhook_secret(request: HttpRequest, endpoint_id: Id):
    """A new secret, shown once; deliveries are signed with both secrets while the previous one stays valid."""
    endpoint = _endpoint_or_404(endpoint_id)
    secret = services.endpoint_secret_rotate(endpoint=endpoint, actor=actor_of(request))
    return {"secret": secret, "previous_secret_expires_at": endpoint.previous_secret_expires_at}


@router.post("/webhook-endpoints/{endpoint_id}/replay", response={202: ReplayOut, **error_responses()},
             operation_id="replay_webhook_deliveries", summary="Replay failed deliveries since a time")
def replay_webhook_deliveries(request: HttpRequest, endpoint_id: Id, payload: ReplayIn):
    """Resends every failed delivery of the endpoint created at or after `since`. The endpoint must be enabled."""
    count = services.deliveries_replay_failed_since(endpoint=_endpoint_or_404(endpoint_id),
                                                    since=payload.since, actor=actor_of(request))
    return Status(202, {"replayed": count})


# --- deliveries --------------------------------------------------------------------------------

@router.get("/webhook-endpoints/{endpoint_id}/deliveries", response={200: DeliveryPage, **error_responses()},
            operation_id="list_webhook_deliveries", summary="List an endpoint's deliveries")
def list_webhook_deliveries(request: HttpRequest, endpoint_id: Id, params: Query[DeliveryListQuery]):
    """Newest first."""
    deliveries = selectors.delivery_list(endpoint=_endpoint_or_404(endpoint_id), status=params.status)
    page = keyset_page(deliveries, kind=f"webhook-deliveries:{endpoint_id}", fields=("created_at", "id"),
                       descending=True, cursor=params.cursor, page_size=params.page_size)
    return {"data": [delivery_out(d) for d in page.items], "next_cursor": page.next_cursor}


def _delivery_or_404(delivery_id: int) -> Delivery:
    try:
        return selectors.delivery_detail(delivery_id=delivery_id)
    except CatalogError as exc:
        if exc.code == "NOT_FOUND":
            raise CatalogError("NOT_FOUND", f"No webhook delivery {delivery_id}.") from None
        raise


@router.get("/webhook-deliveries/{delivery_id}", response={200: DeliveryDetailOut, **error_responses()},
            operation_id="get_webhook_delivery", summary="Get a delivery with its attempts")
def get_webhook_delivery(request: HttpRequest, delivery_id: Id):
    delivery = _delivery_or_404(delivery_id)
    payload = json_for_output(delivery.event.payload, what=f"webhook event {delivery.event_id} payload")
    return {**delivery_out(delivery), "payload": payload,
            "attempt_log": [{name: getattr(a, name) for name in (
                "number", "at", "status_code", "duration_ms", "error", "remote_address", "response_snippet")}
                for a in delivery.attempt_list]}


@router.post("/webhook-deliveries/{delivery_id}/resend", response={202: DeliveryOut, **error_responses()},
             operation_id="resend_webhook_delivery", summary="Resend a delivery")
def resend_webhook_delivery(request: HttpRequest, delivery_id: Id):
    """Sends the delivery again now, whatever its status, with a fresh retry schedule."""
    delivery = services.delivery_resend(delivery=_delivery_or_404(delivery_id), actor=actor_of(request))
    return Status(202, delivery_out(delivery))
