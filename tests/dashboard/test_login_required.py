"""Every dashboard URL, page or action, sends an anonymous visitor to the login page and does nothing."""

import uuid

import pytest
from django.urls import URLPattern, reverse

from core.models import AuditEvent
from dashboard.urls import urlpatterns
from tests.dashboard.factories import HTMX

pytestmark = pytest.mark.django_db


def _args(pattern: URLPattern) -> dict:
    converters = pattern.pattern.converters
    return {name: uuid.UUID(int=1) if type(conv).__name__ == "UUIDConverter" else
            (1 if type(conv).__name__ == "IntConverter" else "sandbox") for name, conv in converters.items()}


URLS = [reverse(f"dashboard:{p.name}", kwargs=_args(p)) for p in urlpatterns]


@pytest.mark.parametrize("url", URLS)
def test_it_redirects_anonymous_visitors_to_login(client, url):
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 302, (method.__name__, url)
        assert response["Location"].startswith("/login/?next=")
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("url", URLS)
def test_it_tells_htmx_to_load_the_login_page(client, url):
    response = client.get(url, **HTMX)
    assert response["HX-Redirect"].startswith("/login/?next=")
