"""Dashboard writes that no app service covers on its own. Each calls the existing services
and records what was done in the audit log; views never write models themselves."""

from connections.connectors.registry import connector_class
from connections.models import Connection
from connections.services import connection_entities_validate, connection_probe, connector_probe
from core.audit import Actor, audit_record
from core.errors import CatalogError
from syncs import incidents as incident_services
from syncs.lifecycle import connection_update
from syncs.models import Incident


def connection_test_audited(*, connection: Connection, actor: Actor) -> dict:
    """Checks a saved connection's credentials and each entity (connection_probe); the result is
    audited either way."""
    result = connection_probe(connection=connection)
    audit_record(actor=actor, action="connection.tested", target=connection, connection=connection,
                 details={"ok": result["ok"], "code": result.get("code", ""), "entities": _outcomes(result)})
    return result


def _outcomes(result: dict) -> dict:
    return {entity: outcome["outcome"] for entity, outcome in (result.get("entities") or {}).items()}


def connection_reauthorize(*, connection: Connection, credentials: dict, actor: Actor) -> Connection:
    """New credentials through `connection_update`, which checks them upstream, saves them and
    lifts `auth_failed` (audited as connection.updated). A refused attempt changes nothing and is
    audited too (connection.credentials_rejected, with its code), then re-raised for the form."""
    try:
        return connection_update(connection=connection, actor=actor, credentials=credentials)
    except CatalogError as exc:
        audit_record(actor=actor, action="connection.credentials_rejected", target=connection, connection=connection,
                     details={"code": exc.code})
        raise


def connector_test(*, connector: str, config: dict, credentials: dict, actor: Actor,
                   entities: list[str] | None = None) -> dict:
    """Validates and checks settings before a connection exists (the connect form's Test button):
    the credentials, then each chosen entity (all when none is chosen), as connection_probe does."""
    try:
        cls = connector_class(connector)
        config = cls.validate(config=config, credentials=credentials)
        entities = connection_entities_validate(supported=cls.entities, entities=entities)
        result = connector_probe(connector=cls(config=config, credentials=credentials), entities=entities)
    except CatalogError as exc:
        result = {"ok": False, "code": exc.code, "message": exc.message, "details": exc.details, "entities": {}}
    audit_record(actor=actor, action="connector.tested",
                 details={"connector": connector, "ok": result["ok"], "code": result.get("code", ""),
                          "entities": _outcomes(result)})
    return result


def incidents_acknowledge(*, incidents: list[Incident], actor: Actor) -> int:
    """Acknowledges a failures-page group: one audit event for the action."""
    return incident_services.incidents_acknowledge(incidents=incidents, actor=actor)


def incidents_resolve(*, incidents: list[Incident], actor: Actor) -> int:
    return incident_services.incidents_resolve(incidents=incidents, actor=actor)
