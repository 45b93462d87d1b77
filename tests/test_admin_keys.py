"""A new admin key is shown once, on a page no cache keeps, and never through messages."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from connections.api_keys import api_key_by_key
from connections.models import ApiKey, AuditEvent

pytestmark = pytest.mark.django_db

KEY = re.compile(r"sk_[^\s\"<…]{20,}")


def test_it_shows_a_new_key_once_on_a_no_store_page(admin_client):
    response = admin_client.post(reverse("admin:connections_apikey_add"), {"name": "erp-bridge"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = KEY.search(response.content.decode()).group()
    assert api_key_by_key(key=key) == ApiKey.objects.get(name="erp-bridge")
    assert AuditEvent.objects.filter(action="api_key.created", source=AuditEvent.Source.ADMIN).exists()
    # Nowhere else: not in a message, a cookie, the session, or the next page.
    assert not [m for m in get_messages(response.wsgi_request) if key in str(m)]
    assert not [c for c in response.cookies.values() if key in c.value]
    assert key not in str(dict(admin_client.session))
    assert key not in admin_client.get(reverse("admin:connections_apikey_changelist")).content.decode()


def test_it_shows_the_key_page_for_save_and_continue_too(admin_client):
    response = admin_client.post(reverse("admin:connections_apikey_add"), {"name": "ci", "_continue": "1"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert KEY.search(response.content.decode())
    assert "messages" not in response.cookies


def test_it_refuses_a_key_without_a_name(admin_client):
    response = admin_client.post(reverse("admin:connections_apikey_add"), {"name": "  "})
    assert response.status_code == 200 and response.context["adminform"].form.errors["name"]
    assert not ApiKey.objects.exists()
