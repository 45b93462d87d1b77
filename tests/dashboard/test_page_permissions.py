"""Every dashboard URL, page or action, needs staff plus the view permission of what it shows: a
logged-in user without them gets 403, sees nothing of the page, and changes nothing."""

import pytest
from django.urls import URLPattern, reverse

from connections.models import Connection
from core.models import AuditEvent
from dashboard.urls import urlpatterns
from dashboard.views.common import dashboard_view
from syncs.models import SyncRun
from tests.connect_links.factories import make_link
from tests.dashboard.factories import (
    HTMX,
    OPERATOR_PERMISSIONS,
    VIEW_PERMISSIONS,
    grant,
    idle_connection,
    incidents,
    records,
)
from tests.webhooks.factories import DeliveryFactory, EndpointFactory
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

ACTION_PERMISSIONS = tuple(p for p in OPERATOR_PERMISSIONS if p not in VIEW_PERMISSIONS)


@pytest.fixture
def objects():
    connection = idle_connection(name="Leaky Plant Connection")
    endpoint = EndpointFactory(url="https://leaky-receiver.example.com/hook", connection=connection)
    return {
        "connection": connection,
        "connection_id": connection.pk,
        "run_id": SyncRun.objects.filter(connection=connection).first().pk,
        "incident_id": incidents([connection])[0].pk,
        "endpoint_id": endpoint.pk,
        "delivery_id": DeliveryFactory(endpoint=endpoint, status=Delivery.Status.FAILED).pk,
        "key": "sandbox",
        "link_id": make_link()[0].pk,
        "entity": "purchase_orders",
        "record_id": records(connection, 1)[0].pk,
    }


def _url(pattern: URLPattern, objects: dict) -> str:
    return reverse(f"dashboard:{pattern.name}", kwargs={name: objects[name] for name in pattern.pattern.converters})


def _secrets(connection: Connection) -> list[str]:
    """What a page would show of these objects; none of it may reach a refused user."""
    return [connection.name, connection.customer.name, connection.token_prefix, "leaky-receiver", "Sync runs</h1>",
            "Audit log</h1>", "Failures</h1>"]


@pytest.fixture(params=["not_staff_with_every_permission", "staff_without_permissions", "staff_with_actions_only"])
def refused_client(request, client, django_user_model):
    staff, perms = {"not_staff_with_every_permission": (False, OPERATOR_PERMISSIONS),
                    "staff_without_permissions": (True, ()),
                    "staff_with_actions_only": (True, ACTION_PERMISSIONS)}[request.param]
    user = django_user_model.objects.create_user(request.param, password="pw", is_staff=staff)
    client.force_login(grant(user, *perms))
    return client


def test_it_refuses_every_url_to_a_user_without_staff_and_view_permissions(refused_client, objects):
    connection = objects["connection"]
    counts = SyncRun.objects.count(), Endpoint.objects.count(), AuditEvent.objects.count()
    for pattern in urlpatterns:
        url = _url(pattern, objects)
        for method in (refused_client.get, refused_client.post):
            for headers in ({}, HTMX):
                response = method(url, {"connection": str(connection.pk), "error_code": "UPSTREAM_SERVER_ERROR"},
                                  **headers)
                assert response.status_code == 403, (method.__name__, headers, url)
                body = response.content.decode()
                assert not [s for s in _secrets(connection) if s in body], (method.__name__, url)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert (SyncRun.objects.count(), Endpoint.objects.count(), AuditEvent.objects.count()) == counts


@pytest.mark.parametrize("pattern", [p for p in urlpatterns if p.name in {
    "overview", "connections", "connection", "connection_live", "connect", "connect_form", "runs", "run", "failures",
    "audit", "webhooks", "webhook", "delivery", "records", "record"}], ids=lambda p: p.name)
def test_it_shows_every_page_to_staff_with_the_view_permissions(viewer_client, objects, pattern):
    assert viewer_client.get(_url(pattern, objects)).status_code == 200


@pytest.mark.parametrize("url, missing", [
    ("/connections/", "connections.view_connection"), ("/runs/", "syncs.view_syncrun"),
    ("/failures/", "syncs.view_incident"), ("/audit/", "core.view_auditevent"),
    ("/webhooks/", "webhooks.view_endpoint"), ("/webhooks/", "webhooks.view_delivery"),
    ("/", "connections.view_connection"), ("/", "syncs.view_syncrun")])
def test_it_needs_the_view_permission_of_each_page(client, django_user_model, url, missing):
    user = django_user_model.objects.create_user("partial", password="pw", is_staff=True)
    client.force_login(grant(user, *(p for p in VIEW_PERMISSIONS if p != missing)))
    assert client.get(url).status_code == 403
    assert client.get(url, **HTMX).status_code == 403


def test_it_shows_a_superuser_everything(admin_client):
    assert admin_client.get("/connections/").status_code == 200


def test_it_refuses_a_page_declared_without_its_permissions():
    with pytest.raises(TypeError):
        dashboard_view(lambda request: None)
