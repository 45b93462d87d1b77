"""API v1: connect links (admin key; docs/connect-links.md). A link's URL carries its token, so
it is returned once, on creation; afterwards a link is read and revoked by its id."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict

from connections.api import CustomerIn, CustomerOut
from connections.connect_links import DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, connect_link_create, connect_link_revoke
from connections.models import ConnectLink
from core.api_auth import actor_of, admin_key
from core.api_errors import error_responses
from core.api_secrets import secret_response
from core.errors import CatalogError

router = Router(auth=admin_key, tags=["Connect links (admin)"])


class ConnectLinkCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    customer: CustomerIn
    connectors: list[str] = Field(min_length=1, max_length=20,
                                  description="Connector keys (GET /connectors) the customer may pick from.")
    entities: list[str] | None = Field(None, max_length=50,
                                       description="Entities to sync; omitted: all the chosen connector supports.")
    redirect_url: str | None = Field(None, max_length=2000,
                                     description="Where the customer's browser goes after connecting; "
                                                 "omitted: a done page.")
    expires_in: int = Field(DEFAULT_EXPIRES_IN, ge=60, le=MAX_EXPIRES_IN,
                            description="Seconds the link stays usable (default 7 days, at most 30).")


class ConnectLinkCreatedOut(Schema):
    id: UUID
    url: str = Field(description="The link to send the customer. Shown only in this response.")
    expires_at: datetime


class ConnectLinkOut(Schema):
    id: UUID
    customer: CustomerOut
    connectors: list[str]
    entities: list[str]
    redirect_url: str
    state: Literal["active", "used", "expired", "revoked"]
    token_prefix: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None
    connection_id: UUID | None = Field(description="The connection created through the link, once used.")
    created_by: str
    created_at: datetime


def connect_link_out(link: ConnectLink) -> dict:
    customer = link.customer
    return {
        "id": link.pk, "customer": {"id": customer.pk, "name": customer.name, "external_id": customer.external_id},
        "state": link.state(timezone.now()),
        **{name: getattr(link, name) for name in (
            "connectors", "entities", "redirect_url", "token_prefix", "expires_at", "used_at", "revoked_at",
            "connection_id", "created_by", "created_at")},
    }


def _link_or_404(link_id: UUID) -> ConnectLink:
    link = ConnectLink.objects.select_related("customer").filter(pk=link_id).first()
    if link is None:
        raise CatalogError("NOT_FOUND", f"No connect link {link_id}.")
    return link


@router.post("/connect-links", response={201: ConnectLinkCreatedOut, **error_responses()},
             operation_id="create_connect_link", summary="Create a connect link for a customer")
@secret_response
def create_connect_link(request: HttpRequest, payload: ConnectLinkCreateIn):
    """The customer (found by `external_id`, else made) connects their own system on the page at
    `url`: one connection, with the listed connectors to choose from. Send them the URL; it is not
    shown again."""
    link, token = connect_link_create(
        customer_name=payload.customer.name, customer_external_id=payload.customer.external_id,
        connectors=payload.connectors, entities=payload.entities, redirect_url=payload.redirect_url or "",
        expires_in=payload.expires_in, actor=actor_of(request))
    url = request.build_absolute_uri(reverse("connect_link", args=[token]))
    return Status(201, {"id": link.pk, "url": url, "expires_at": link.expires_at})


@router.get("/connect-links/{link_id}", response={200: ConnectLinkOut, **error_responses()},
            operation_id="get_connect_link", summary="Get a connect link")
def get_connect_link(request: HttpRequest, link_id: UUID):
    """Its state (active, used, expired, revoked) and, once used, the connection made through it."""
    return connect_link_out(_link_or_404(link_id))


@router.post("/connect-links/{link_id}/revoke", response={200: ConnectLinkOut, **error_responses()},
             operation_id="revoke_connect_link", summary="Revoke a connect link")
def revoke_connect_link(request: HttpRequest, link_id: UUID):
    """The link stops working at once; a used or revoked link is returned unchanged."""
    return connect_link_out(connect_link_revoke(link=_link_or_404(link_id), actor=actor_of(request)))
