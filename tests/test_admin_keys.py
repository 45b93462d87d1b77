"""Admin keys in the Django admin: a new key is shown once, on a page no cache keeps and never
through messages; keys are revoked by an action, never deleted."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from core.api_keys import api_key_by_key, api_key_create
from core.models import ApiKey, AuditEvent
from tests.api.conftest import ApiClient, assert_error
from tests.syncs.factories import TEST_ACTOR

pytestmark = pytest.mark.django_db

KEY = re.compile(r"sk_[^\s\"<…]{20,}")


def test_it_shows_a_new_key_once_on_a_no_store_page(admin_client):
    response = admin_client.post(reverse("admin:core_apikey_add"), {"name": "erp-bridge"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = KEY.search(response.content.decode()).group()
    assert api_key_by_key(key=key) == ApiKey.objects.get(name="erp-bridge")
    assert ApiClient(key).get("/api/v1/connectors").status_code == 200
    audit = AuditEvent.objects.get(action="api_key.created")
    assert (audit.source, audit.actor) == (AuditEvent.Source.ADMIN, "root")
    # Nowhere else: not in a message, a cookie, the session, or the next page.
    assert not [m for m in get_messages(response.wsgi_request) if key in str(m)]
    assert not [c for c in response.cookies.values() if key in c.value]
    assert key not in str(dict(admin_client.session))
    assert key not in admin_client.get(reverse("admin:core_apikey_changelist")).content.decode()
    api_key = api_key_by_key(key=key)
    page = admin_client.get(reverse("admin:core_apikey_change", args=[api_key.pk])).content.decode()
    assert key not in page and api_key.key_prefix in page


def test_it_shows_the_key_page_for_save_and_continue_too(admin_client):
    response = admin_client.post(reverse("admin:core_apikey_add"), {"name": "ci", "_continue": "1"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert KEY.search(response.content.decode())
    assert "messages" not in response.cookies


def test_it_refuses_a_key_without_a_name(admin_client):
    response = admin_client.post(reverse("admin:core_apikey_add"), {"name": "  "})
    assert response.status_code == 200 and response.context["adminform"].form.errors["name"]
    assert not ApiKey.objects.exists()


def test_it_revokes_keys_with_an_admin_action(admin_client):
    api_key, key = api_key_create(name="old", actor=TEST_ACTOR)
    response = admin_client.post(reverse("admin:core_apikey_changelist"),
                                 {"action": "revoke_keys", "_selected_action": [api_key.pk]}, follow=True)
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert_error(ApiClient(key).get("/api/v1/connectors"), "AUTHENTICATION_FAILED")


def test_it_keeps_revoked_keys_for_the_audit_trail(admin_client):
    api_key, _ = api_key_create(name="kept", actor=TEST_ACTOR)
    response = admin_client.post(reverse("admin:core_apikey_delete", args=[api_key.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert ApiKey.objects.filter(pk=api_key.pk).exists()
