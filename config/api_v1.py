"""API v1 assembled: the NinjaAPI of core/api.py with every app's routes, as config/urls.py mounts it."""

from connections.api import admin_router as connections_admin_router
from connections.api import connection_router
from core.api import api
from syncs.api import admin_router as syncs_admin_router
from syncs.api import records_router, syncs_router
from webhooks.api import router as webhooks_router

api.add_router("", connection_router)
api.add_router("", records_router)
api.add_router("", syncs_router)
api.add_router("", connections_admin_router)
api.add_router("", syncs_admin_router)
api.add_router("", webhooks_router)
api.add_router("", "connections.api_connect_links.router")

__all__ = ["api"]
