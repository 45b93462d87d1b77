"""Connect links (docs/connect-links.md): made by staff or the back office, opened by a customer,
spent by the connection created through them. Creating that connection, its first sync and its
webhook event span apps, so that step is in syncs/connect_links.py; this module holds the link's
own writes and checks, and every use of it in the audit log.

What the page at the link shows never depends on why a token is refused: `connect_link_resolve`
answers None for a wrong, expired, used or revoked token alike. Only the audit log tells them apart.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from connections.connectors.registry import connector_class
from connections.models import ConnectLink, Customer
from connections.services import (
    connection_entities_validate,
    connection_json_check,
    connector_probe,
    customer_get_or_create,
)
from core.audit import Actor, audit_record
from core.errors import CatalogError
from core.tokens import token_generate, token_hash, token_prefix

TOKEN_KIND = "clk"
DEFAULT_EXPIRES_IN = 7 * 24 * 3600
MAX_EXPIRES_IN = 30 * 24 * 3600
MIN_EXPIRES_IN = 60


def link_actor(link: ConnectLink, *, request_id: str = "") -> Actor:
    """The customer acting on the page: known only by the link they hold."""
    return Actor(name=f"connect link {link.token_prefix}", source="api", request_id=request_id)


def _fields_error(fields: dict) -> CatalogError:
    return CatalogError("VALIDATION_FAILED", details={"fields": fields})


def connect_link_settings_check(*, connectors: list[str], entities: list[str] | None, redirect_url: str,
                                expires_in: int) -> list[str]:
    """Every connector must exist and take every entity asked for; returns the entities, [] for
    "all the chosen connector has"."""
    if not connectors:
        raise _fields_error({"connectors": "list at least one connector"})
    unknown = []
    for key in connectors:
        try:
            connector_class(key)
        except CatalogError:
            unknown.append(key)
    if unknown:
        raise _fields_error({"connectors": f"unknown connector(s): {', '.join(unknown)}"})
    entities = [e.replace("-", "_") for e in entities or []]
    for key in connectors:
        if entities:
            connection_entities_validate(supported=connector_class(key).entities, entities=entities)
    if redirect_url:
        try:
            URLValidator(schemes=["https", "http"])(redirect_url)
        except ValidationError:
            raise _fields_error({"redirect_url": "an http(s) URL"}) from None
    if not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN:
        raise _fields_error({"expires_in": f"between {MIN_EXPIRES_IN} and {MAX_EXPIRES_IN} seconds (30 days)"})
    return entities


@transaction.atomic
def connect_link_create(*, customer_name: str, customer_external_id: str | None = None, connectors: list[str],
                        entities: list[str] | None = None, redirect_url: str = "",
                        expires_in: int = DEFAULT_EXPIRES_IN, actor: Actor,
                        customer: Customer | None = None) -> tuple[ConnectLink, str]:
    """Finds or makes the customer (or takes `customer`) and returns the link and its token,
    which exists only in this return value."""
    connectors = list(dict.fromkeys(connectors))
    entities = connect_link_settings_check(connectors=connectors, entities=entities, redirect_url=redirect_url,
                                           expires_in=expires_in)
    customer = customer or customer_get_or_create(name=customer_name, external_id=customer_external_id)
    token = token_generate(kind=TOKEN_KIND)
    link = ConnectLink.objects.create(
        customer=customer, connectors=connectors, entities=entities, redirect_url=redirect_url,
        token_hash=token_hash(token), token_prefix=token_prefix(token),
        expires_at=timezone.now() + timedelta(seconds=expires_in), created_by=actor.name)
    audit_record(actor=actor, action="connect_link.created", target=link,
                 details={"customer_id": customer.pk, "connectors": connectors, "entities": entities,
                          "token_prefix": link.token_prefix, "expires_at": link.expires_at.isoformat()})
    return link, token


@transaction.atomic
def connect_link_revoke(*, link: ConnectLink, actor: Actor) -> ConnectLink:
    """Revoking a spent or already revoked link changes nothing (and audits nothing)."""
    link = ConnectLink.objects.select_for_update().get(pk=link.pk)
    if link.revoked_at or link.used_at:
        return link
    link.revoked_at = timezone.now()
    link.save(update_fields=["revoked_at"])
    audit_record(actor=actor, action="connect_link.revoked", target=link,
                 details={"token_prefix": link.token_prefix})
    return link


def connect_link_usable(link: ConnectLink) -> bool:
    return not link.revoked_at and not link.used_at and link.expires_at > timezone.now()


def connect_link_resolve(*, token: str, request_id: str = "") -> ConnectLink | None:
    """The usable link of a token, or None, whatever the reason. A known link refused for its
    state is audited as such (expired, used, revoked), so staff can tell a customer why."""
    if not token.startswith(f"{TOKEN_KIND}_") or len(token) > 100:
        return None
    link = ConnectLink.objects.select_related("customer").filter(token_hash=token_hash(token)).first()
    if link is None:
        return None
    if connect_link_usable(link):
        return link
    state = link.state(timezone.now())
    audit_record(actor=link_actor(link, request_id=request_id), action=f"connect_link.refused_{state}",
                 target=link, details={"token_prefix": link.token_prefix, "state": state})
    return None


def connect_link_opened(*, link: ConnectLink, request_id: str = "") -> None:
    audit_record(actor=link_actor(link, request_id=request_id), action="connect_link.opened", target=link,
                 details={"token_prefix": link.token_prefix})


def connect_link_require_connector(*, link: ConnectLink, connector: str) -> None:
    if connector not in link.connectors:
        raise _fields_error({"connector": "not offered by this link"})


def connect_link_test(*, link: ConnectLink, connector: str, config: dict, credentials: dict,
                      request_id: str = "") -> dict:
    """"Test connection" on the page: the settings, the credentials upstream, then each of the
    link's entities, as the staff connect form tests them (connector_probe). Audited without
    anything typed: the connector, the outcome and the entities' outcomes only."""
    connect_link_require_connector(link=link, connector=connector)
    try:
        connection_json_check(config=config, credentials=credentials, metadata=None)
        cls = connector_class(connector)
        config = cls.validate(config=config, credentials=credentials)
        entities = connection_entities_validate(supported=cls.entities, entities=link.entities or None)
        result = connector_probe(connector=cls(config=config, credentials=credentials), entities=entities)
    except CatalogError as exc:
        result = {"ok": False, "code": exc.code, "message": exc.message, "details": exc.details, "entities": {}}
    audit_record(actor=link_actor(link, request_id=request_id), action="connect_link.tested", target=link,
                 details={"connector": connector, "ok": result["ok"], "code": result.get("code", ""),
                          "entities": {e: o["outcome"] for e, o in (result.get("entities") or {}).items()}})
    return result


def connect_link_consume(*, link: ConnectLink, connection, actor: Actor) -> ConnectLink:
    """Inside the transaction that creates `connection`: the link, locked, must still be usable;
    it is spent by this connection. A refusal rolls the connection back with it."""
    locked = ConnectLink.objects.select_for_update().get(pk=link.pk)
    if not connect_link_usable(locked):
        raise CatalogError("NOT_FOUND", "This link is no longer valid.")
    locked.used_at = timezone.now()
    locked.connection = connection
    locked.save(update_fields=["used_at", "connection"])
    audit_record(actor=actor, action="connect_link.connected", target=locked, connection=connection,
                 details={"token_prefix": locked.token_prefix, "connector": connection.connector})
    return locked
