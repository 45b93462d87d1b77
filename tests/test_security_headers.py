import json
import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from tests.helpers import manage

pytestmark = pytest.mark.django_db

# The production settings this module's tests apply to the test settings, read from
# config.settings.production in a fresh process (importing it here would rebuild every setting).
PRODUCTION_NAMES = ("SECURE_CSP", "PERMISSIONS_POLICY", "CSRF_COOKIE_HTTPONLY")
READ_PRODUCTION = ("from django.conf import settings as s; import json; "
                   f"print(json.dumps({{n: getattr(s, n, None) for n in {PRODUCTION_NAMES!r}}}))")


@pytest.fixture(scope="module")
def production_values(tmp_path_factory) -> dict:
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.production", "VAR_DIR": str(tmp_path_factory.mktemp("var")),
           "SECRET_KEY": Fernet.generate_key().decode() * 2, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    result = manage("shell", "-c", READ_PRODUCTION, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def production(settings, production_values):
    for name, value in production_values.items():
        setattr(settings, name, value)
    return production_values


def cache_directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def csp(response) -> dict[str, list[str]]:
    directives = (part.split() for part in response["Content-Security-Policy"].split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def test_it_marks_a_logged_in_dashboard_page_no_store_private(admin_client):
    response = admin_client.get("/")
    assert response.status_code == 200
    assert {"no-store", "private"} <= cache_directives(response)


def test_it_marks_a_dashboard_fragment_no_store_private(admin_client):
    response = admin_client.get("/runs/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert {"no-store", "private"} <= cache_directives(response)


def test_it_marks_an_admin_page_no_store_private(admin_client):
    response = admin_client.get("/admin/connections/connection/")
    assert response.status_code == 200
    assert {"no-store", "private"} <= cache_directives(response)


def test_it_leaves_anonymous_pages_alone(client):
    # Nothing private is rendered for an anonymous caller; the login page is never_cache by its view.
    assert "private" not in cache_directives(client.get("/"))


def test_it_leaves_api_routes_to_their_own_caching(admin_client):
    response = admin_client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "private" not in cache_directives(response)


def test_it_sends_no_policies_in_development(client):
    response = client.get("/login/")
    assert "Content-Security-Policy" not in response and "Permissions-Policy" not in response


@pytest.mark.parametrize("path", ["/login/", "/", "/admin/", "/api/v1/docs", "/healthz"])
def test_it_sends_a_strict_csp_in_production(admin_client, production, path):
    policy = csp(admin_client.get(path))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"], "no inline script, no eval"
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


def test_it_denies_browser_features_in_production(client, production):
    header = client.get("/login/")["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in header


def test_it_sets_the_csrf_cookie_httponly_in_production(client, production):
    assert production["CSRF_COOKIE_HTTPONLY"] is True
    response = client.get("/login/")
    assert response.cookies["csrftoken"]["httponly"] is True


def test_it_keeps_htmx_posts_working_with_an_httponly_csrf_cookie(admin_user, production):
    # The page hands htmx the token (hx-headers on <body>); no script reads the cookie.
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    token = re.search(r'<body hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    assert client.post("/logout/", headers={"HX-Request": "true"}).status_code == 403
    assert client.post("/logout/", headers={"HX-Request": "true", "X-CSRFToken": token}).status_code == 302


def test_it_lets_the_api_docs_load_their_assets_under_the_csp(client, production):
    page = client.get("/api/v1/docs").content.decode()
    assets = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), f"{asset} is not served from this origin"
        assert client.get(asset).status_code == 200, asset
    # Only a data block (type="application/json", never executed) may be inline.
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert all('type="application/json"' in attributes for attributes in inline), inline


def test_it_keeps_every_template_free_of_inline_script_the_csp_would_block():
    """The production CSP allows scripts from this site only: an inline handler or script
    would silently stop working there."""
    inline = re.compile(r"""\son[a-z]+\s*=|<script(?![^>]*\ssrc=)[^>]*>""", re.IGNORECASE)
    offenders = [f"{path}: {match.group(0)}" for path in Path(__file__).parents[1].glob("templates/**/*.html")
                 for match in inline.finditer(path.read_text())]
    assert offenders == []
