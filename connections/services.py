"""Writes to customers, connections and their tokens, and the checks a connection's settings
pass. What also changes syncs or emits webhook events (creating, pausing, disconnecting...)
is in syncs/lifecycle.py, the app above both."""

from django.db import transaction

from connections.connectors.base import Connector
from connections.connectors.registry import connector_class, connector_for
from connections.models import Connection, Customer
from core.audit import Actor, audit_record
from core.errors import CatalogError
from core.json_limits import json_limits_check
from core.tokens import token_generate, token_hash, token_prefix


def customer_get_or_create(*, name: str, external_id: str | None = None) -> Customer:
    if external_id:
        customer, _ = Customer.objects.get_or_create(external_id=external_id, defaults={"name": name})
        return customer
    customer = Customer.objects.filter(name=name).order_by("pk").first()
    return customer or Customer.objects.create(name=name)


def connection_token_issue(*, connection: Connection) -> str:
    """Sets a new token and returns it; the clear token exists only in this return value."""
    token = token_generate(kind="ctk")
    connection.token_hash = token_hash(token)
    connection.token_prefix = token_prefix(token)
    connection.save(update_fields=["token_hash", "token_prefix", "updated_at"])
    return token


@transaction.atomic
def connection_token_rotate(*, connection: Connection, actor: Actor) -> str:
    connection_require_connected(connection=connection)
    token = connection_token_issue(connection=connection)
    audit_record(actor=actor, action="connection.token_rotated", target=connection, connection=connection,
                 details={"token_prefix": connection.token_prefix})
    return token


def connection_by_token(*, token: str) -> Connection | None:
    if not token.startswith("ctk_"):
        return None
    return (Connection.objects.select_related("customer")
            .filter(token_hash=token_hash(token)).exclude(status=Connection.Status.DISCONNECTED).first())


def connection_settings_check(*, connector: str, config: dict, credentials: dict, entities: list[str] | None,
                              sync_interval_minutes: int, history_days: int, verify: bool) -> tuple[dict, list[str]]:
    """Everything a new connection is refused for, before anything is saved. Returns the validated
    config and entities. The upstream check runs outside any transaction: no lock waits on it."""

    cls = connector_class(connector)
    config = cls.validate(config=config, credentials=credentials)
    entities = connection_entities_validate(supported=cls.entities, entities=entities)
    connection_numbers_validate(sync_interval_minutes=sync_interval_minutes, history_days=history_days)
    if verify:
        cls(config=config, credentials=credentials).check()
    return config, entities


def connection_json_check(*, config: dict | None, credentials: dict | None, metadata: dict | None) -> None:
    """Bounds the JSON a client sends before a connector (or the database) sees it: a value
    nested too deep would crash the encoder on every later read of the connection."""
    for field, value in (("config", config), ("credentials", credentials), ("metadata", metadata)):
        if value is not None:
            json_limits_check(value, field=field)


def connection_entities_validate(*, supported, entities: list[str] | None) -> list[str]:
    if not entities:
        return list(supported)
    unknown = [e for e in entities if e not in supported]
    if unknown:
        raise CatalogError("VALIDATION_FAILED", f"Unsupported entities: {', '.join(unknown)}.",
                           details={"fields": {"entities": f"choose from {list(supported)}"}})
    return [e for e in supported if e in entities]


def connection_numbers_validate(*, sync_interval_minutes: int, history_days: int) -> None:
    errors = {}
    if not 5 <= sync_interval_minutes <= 7 * 24 * 60:
        errors["sync_interval_minutes"] = "between 5 and 10080 minutes"
    if not 1 <= history_days <= 3650:
        errors["history_days"] = "between 1 and 3650 days"
    if errors:
        raise CatalogError("VALIDATION_FAILED", details={"fields": errors})


# What a failed entity probe means for the person testing: an SAP user often may read one API
# and not another, so "Test connection" says which (docs/architecture.md, "Sync semantics").
PROBE_OUTCOMES = {"UPSTREAM_PERMISSION_DENIED": "no_permission", "UPSTREAM_NOT_FOUND": "not_found"}


def connector_probe(*, connector: Connector, entities) -> dict:
    """Checks the credentials, then, if they pass, reads one record of each entity. A failing
    entity does not stop the others. {"ok", ["code", "message", "details"], "entities": {entity:
    {"ok": True} | {"ok": False, "outcome", "code", "message"}}, ["details"]}; "ok" is the credential
    check's. A passing check adds the connector's check_details() as "details" when it has any (e.g.
    {"choices": {"company_id": [...]}}: values to choose from for a field left empty)."""
    try:
        connector.check()
    except CatalogError as exc:
        return {"ok": False, "code": exc.code, "message": exc.message, "details": exc.details, "entities": {}}
    results = {}
    for entity in entities:
        try:
            connector.probe(entity)
        except CatalogError as exc:
            results[entity] = {"ok": False, "outcome": PROBE_OUTCOMES.get(exc.code, "failed"), "code": exc.code,
                               "message": exc.message}
        else:
            results[entity] = {"ok": True, "outcome": "ok"}
    result = {"ok": True, "entities": results}
    details = connector.check_details()
    if details:
        result["details"] = details
    return result


def connection_probe(*, connection: Connection) -> dict:
    """"Test connection" for a saved connection: the credentials, then each enabled entity."""
    return connector_probe(connector=connector_for(connection), entities=connection.entities)


def connection_require_connected(*, connection: Connection) -> None:
    """A disconnected connection has no token and no schedule; only deleting it is left."""
    if connection.status == Connection.Status.DISCONNECTED:
        raise CatalogError("CONNECTION_NOT_ACTIVE", "The connection is disconnected; create a new one instead.",
                           details={"status": connection.status})
