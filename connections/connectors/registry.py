"""Which connectors exist. A connector module registers its class on import."""

from config.errors import CatalogError
from connections.connectors.base import Connector

_REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    _REGISTRY[cls.key] = cls
    return cls


def _load() -> None:
    # Imported here, not at module top, so the registry has no import cycle with its modules.
    from connections.connectors import sandbox  # noqa: F401


def connector_class(key: str) -> type[Connector]:
    _load()
    try:
        return _REGISTRY[key]
    except KeyError:
        raise CatalogError("VALIDATION_FAILED", f"Unknown connector {key!r}.",
                           details={"fields": {"connector": f"choose one of {sorted(_REGISTRY)}"}}) from None


def connector_for(connection) -> Connector:
    return connector_class(connection.connector)(config=connection.config, credentials=connection.credentials)


def connector_catalogue() -> list[dict]:
    _load()
    return [cls.catalogue_entry() for cls in sorted(_REGISTRY.values(), key=lambda c: c.name)]
