"""Connection tokens (`ctk_...`) for API v1: named in settings.API_TOKEN_RESOLVERS, so the API
framework in core/api_auth.py can authenticate them without importing this app."""

from connections.services import connection_by_token
from core.api_auth import CONNECTION, Principal


def connection_principal(token: str) -> Principal | None:
    connection = connection_by_token(token=token)
    if connection is None:
        return None
    return Principal(kind=CONNECTION, prefix=connection.token_prefix, key_hash=connection.token_hash,
                     connection=connection)
