"""The whole journey of a connect link in a real browser (Debian's chromium, headless) against a
live server and a real Celery worker: the back office creates the link through the API; the
customer opens it in a fresh browser (no staff session, phone width), picks the sandbox, tests
with credentials the system refuses and sees the error on the field, tests again and passes,
connects and lands on the redirect; then ops staff see the connection with its initial sync
running, and the connection.created webhook reaches its receiver."""

import json
import os

import httpx
import pytest
from standardwebhooks import Webhook

from connections.models import Connection, ConnectLink
from core.api_keys import api_key_create
from syncs.models import SyncRun
from tests.connect_links.factories import SECRET
from tests.dashboard.factories import OPERATOR_PERMISSIONS, grant
from tests.dashboard.test_browser import WAIT_MS, shoot, wait_for
from tests.syncs.factories import TEST_ACTOR
from tests.test_security_headers_browser import REPORT_VIOLATIONS
from tests.webhooks.conftest import ca_bundle, receiver, receiver_factory, tls_ca, webhook_settings  # noqa: F401
from webhooks.models import Delivery
from webhooks.services import endpoint_create

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop runs in this thread; the ORM stays sync

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.real_clock]

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1440, "height": 900}


@pytest.fixture
def worker(worker_factory, webhook_settings, ca_bundle):  # noqa: F811
    """Every queue, with the receiver's loopback address allowed and its CA trusted."""
    return worker_factory(name="links", env={"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
                                             "WEBHOOK_CA_BUNDLE": ca_bundle})


def guarded_page(browser, live_server, viewport):
    """A page in a fresh context; any request leaving the live server, and any violation of the
    page's Content-Security-Policy (htmx included), is collected in `outside` and fails the test."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    outside = []
    page.on("request", lambda request: None if request.url.startswith(live_server.url) or
            request.url.startswith("data:") else outside.append(request.url))
    page.expose_function("reportViolation", lambda violation: outside.append(violation))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: outside.append(message.text)
            if "Content Security Policy" in message.text else None)
    return context, page, outside


def create_link_through_the_api(live_server) -> dict:
    _, key = api_key_create(name="back office", actor=TEST_ACTOR)
    response = httpx.post(f"{live_server.url}/api/v1/connect-links", headers={"Authorization": f"Bearer {key}"},
                          json={"customer": {"name": "Acme Plant", "external_id": "acme-1"},
                                "connectors": ["sandbox", "tryton"], "entities": ["vendors", "locations"],
                                "redirect_url": f"{live_server.url}/link/done/?customer=acme-1"})
    assert response.status_code == 201, response.text
    return response.json()


def customer_connects(page, url: str, live_server) -> None:
    from playwright.sync_api import expect

    response = page.goto(url)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("h1")).to_have_text("Connect your system to PlantSync")
    page.get_by_role("link", name="Sandbox ERP/CMMS").click()
    expect(page.locator("#id_credentials__api_key")).to_be_visible()
    # Focus order follows the form: the credential first, then the settings.
    page.focus("#id_credentials__api_key")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_config__seed"
    page.fill("#id_credentials__api_key", SECRET)
    page.fill("#id_config__records", "5")
    page.fill("#id_config__page_size", "10")
    page.fill("#id_config__faults", '{"auth_failure": true}')  # the sandbox refuses whatever key it gets
    page.get_by_role("button", name="Test connection").click()
    error = page.locator("#id_credentials__api_key_error")
    expect(error).to_have_text("The system rejected these credentials: check this value.", timeout=WAIT_MS)
    assert "id_credentials__api_key_error" in page.get_attribute("#id_credentials__api_key", "aria-describedby")
    shoot(page, "connect-link-refused")

    # A slow page, so the staff see the initial sync running.
    page.fill("#id_config__faults", '{"slow_page_seconds": 4}')
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connection test passed", timeout=WAIT_MS)
    expect(error).to_have_text("")
    expect(page.locator('#test-result li[data-entity="vendors"]')).to_have_attribute("data-outcome", "ok")
    expect(page.locator("#id_credentials__api_key")).to_have_value(SECRET)  # never re-rendered
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shoot(page, "connect-link-tested")

    page.get_by_role("button", name="Connect", exact=True).click()
    page.wait_for_url(f"{live_server.url}/link/done/?customer=acme-1")
    expect(page.locator("h1")).to_have_text("Your system is connected")


def staff_see_the_first_sync(page, live_server, django_user_model, connection) -> None:
    from playwright.sync_api import expect

    grant(django_user_model.objects.create_user("ops", "ops@example.com", "a-long-password", is_staff=True),
          *OPERATOR_PERMISSIONS)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "a-long-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    expect(page.locator("main h1")).to_contain_text("Sandbox ERP/CMMS")
    expect(page.locator("#entity-vendors .run-state")).to_contain_text("running", timeout=WAIT_MS)
    shoot(page, "connect-link-first-sync")
    wait_for(lambda: SyncRun.objects.filter(connection=connection, status="succeeded").count() == 2,
             timeout=120, what="the initial full sync of both entities")
    expect(page.locator("#entity-vendors .run-state")).to_contain_text("succeeded", timeout=WAIT_MS)


def test_it_takes_a_customer_from_the_link_to_a_synced_connection(browser, live_server, transactional_db, worker,
                                                                  receiver, django_user_model):  # noqa: F811
    endpoint, secret = endpoint_create(url=receiver.url(), actor=TEST_ACTOR, event_types=["connection.created"])
    created = create_link_through_the_api(live_server)

    context, page, outside = guarded_page(browser, live_server, PHONE)
    assert context.cookies() == []  # no staff session of any kind
    customer_connects(page, created["url"], live_server)
    context.close()
    assert outside == [], f"requests left the server: {outside}"

    connection = Connection.objects.get(customer__external_id="acme-1")
    assert ConnectLink.objects.get(pk=created["id"]).connection_id == connection.pk
    assert connection.credentials == {"api_key": SECRET}

    context, page, outside = guarded_page(browser, live_server, WIDE)
    staff_see_the_first_sync(page, live_server, django_user_model, connection)
    context.close()
    assert outside == [], f"requests left the server: {outside}"

    (request,) = receiver.wait_for(1, timeout=60)
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "connection.created" and payload["connection_id"] == str(connection.pk)
    assert payload["data"]["connect_link_id"] == created["id"]
    assert payload["data"]["customer"]["external_id"] == "acme-1"
    assert SECRET not in json.dumps(payload)
    wait_for(lambda: Delivery.objects.filter(endpoint=endpoint, status="succeeded").exists(), timeout=60,
             what="the delivery to be recorded as succeeded")
