"""Admin keys in the Django admin: created there with the key shown once, revoked by an action."""

import pytest
from django.urls import reverse

from connections.api_keys import api_key_create
from connections.models import ApiKey, AuditEvent
from tests.api.conftest import ApiClient, assert_error
from tests.syncs.factories import TEST_ACTOR

pytestmark = pytest.mark.django_db


def test_it_creates_a_key_in_the_admin_and_shows_it_once(admin_client):
    response = admin_client.post(reverse("admin:connections_apikey_add"), {"name": "warehouse app"}, follow=True)
    assert response.status_code == 200
    stored = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    key = next(m.split(": ", 1)[1] for m in shown if "shown only now" in m)
    assert key.startswith(stored.key_prefix) and stored.name == "warehouse app"
    assert ApiClient(key).get("/api/v1/connectors").status_code == 200
    page = admin_client.get(reverse("admin:connections_apikey_change", args=[stored.pk])).content.decode()
    assert key not in page and stored.key_prefix in page
    audit = AuditEvent.objects.get(action="api_key.created")
    assert audit.source == "admin" and audit.actor == "root"


def test_it_revokes_keys_with_an_admin_action(admin_client):
    api_key, key = api_key_create(name="old", actor=TEST_ACTOR)
    response = admin_client.post(reverse("admin:connections_apikey_changelist"),
                                 {"action": "revoke_keys", "_selected_action": [api_key.pk]}, follow=True)
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert_error(ApiClient(key).get("/api/v1/connectors"), "AUTHENTICATION_FAILED")


def test_it_keeps_revoked_keys_for_the_audit_trail(admin_client):
    api_key, _ = api_key_create(name="kept", actor=TEST_ACTOR)
    response = admin_client.post(reverse("admin:connections_apikey_delete", args=[api_key.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert ApiKey.objects.filter(pk=api_key.pk).exists()
