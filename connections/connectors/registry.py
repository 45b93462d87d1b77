"""Which connectors exist: one line per connector module below."""

from connections.connectors.base import Connector
from connections.connectors.business_central import BusinessCentralConnector
from connections.connectors.maintainx import MaintainXConnector
from connections.connectors.maximo import MaximoConnector
from connections.connectors.sandbox import SandboxConnector
from connections.connectors.sap_s4hana import SapS4HanaConnector
from connections.connectors.tryton import TrytonConnector
from core.errors import CatalogError

CONNECTORS: dict[str, type[Connector]] = {
    cls.key: cls for cls in (SandboxConnector, SapS4HanaConnector, TrytonConnector, MaximoConnector,
                             MaintainXConnector, BusinessCentralConnector)}


def connector_class(key: str) -> type[Connector]:
    try:
        return CONNECTORS[key]
    except KeyError:
        raise CatalogError("VALIDATION_FAILED", f"Unknown connector {key!r}.",
                           details={"fields": {"connector": f"choose one of {sorted(CONNECTORS)}"}}) from None


def connector_for(connection) -> Connector:
    return connector_class(connection.connector)(config=connection.config, credentials=connection.credentials,
                                                 connection=connection)


def connector_catalogue() -> list[dict]:
    return [cls.catalogue_entry() for cls in sorted(CONNECTORS.values(), key=lambda c: c.name)]
