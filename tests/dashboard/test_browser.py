"""The dashboard in a real browser (Debian's chromium, headless) against a live server and a
real Celery worker: log in, Sync now and watch it succeed without a reload, Full resync, cancel a
slow run, acknowledge an incident, reauthorize a connection, add/edit/delete a webhook endpoint,
disconnect, and a screenshot of every page in test-artifacts/screenshots/ at 1440 and 1366 wide
(no page may scroll sideways at 1366)."""

import os
import time
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# are still synchronous and safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from connections.models import Connection
from syncs.models import Incident, SyncRun
from tests.dashboard.factories import OPERATOR_PERMISSIONS, grant
from tests.syncs.factories import sandbox_connection

pytestmark = [pytest.mark.browser, pytest.mark.worker]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WAIT_MS = 60_000
LAPTOP = {"width": 1366, "height": 768}
WIDE = {"width": 1440, "height": 900}


@pytest.fixture
def operator_login(django_user_model, transactional_db):
    user = django_user_model.objects.create_user("ops", "ops@example.com", "a-long-password", is_staff=True)
    return grant(user, *OPERATOR_PERMISSIONS)


@pytest.fixture
def page(browser, live_server, operator_login):
    """A logged-in page; any request leaving the live server (a CDN, say) fails the test."""
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    outside = []
    page.on("request", lambda request: None if request.url.startswith(live_server.url) or
            request.url.startswith("data:") else outside.append(request.url))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "a-long-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    yield page
    context.close()
    assert outside == [], f"requests left the server: {outside}"


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar lands mid-page in a full-page shot
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def shoot_both(page, name: str) -> None:
    """At 1440 wide, then at a 1366x768 laptop, where nothing may stick out of the page's content
    column (and so make the page scroll sideways or break the right-hand alignment), and no chart
    label may be cut by the edge of its chart."""
    shoot(page, name)
    page.set_viewport_size(LAPTOP)
    try:
        shoot(page, f"{name}-1366")
        overflow = page.evaluate("""() => {
            const root = document.documentElement, main = document.querySelector('main');
            const edge = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight);
            const out = [...main.querySelectorAll('*')].filter(el => el.getBoundingClientRect().right > edge + 1
                && el.closest('details:not([open])') === null);
            // A chart's SVG clips what leaves it, so a label cut at either end shows nothing above.
            const clipped = [...main.querySelectorAll('svg text')].filter(text => {
                const r = text.getBoundingClientRect(), box = text.ownerSVGElement.getBoundingClientRect();
                return r.left < box.left - 1 || r.right > box.right + 1;
            });
            const problems = [...out.slice(-3), ...clipped].map(
                el => `${el.tagName}.${el.className.baseVal ?? el.className}: ${el.textContent.trim().slice(0, 60)}`);
            return root.scrollWidth > root.clientWidth ? [`scrollWidth ${root.scrollWidth}`, ...problems] : problems;
        }""")
        assert overflow == [], f"{name} sticks out of its content column at 1366 px: {overflow}"
    finally:
        page.set_viewport_size(WIDE)


def wait_for(predicate, *, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def settled(connection) -> bool:
    return not SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE_STATUSES).exists()


def test_it_logs_in_and_syncs_now_and_full_resyncs_without_a_reload(page, live_server, celery_worker_process):
    from playwright.sync_api import expect

    connection = sandbox_connection(name="Browser plant", entities=["vendors", "assets"], records=40, page_size=10)
    wait_for(lambda: settled(connection), what="the initial full sync")
    assert page.get_by_role("link", name="Overview").is_visible()

    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.evaluate("window.__noReload = 'still here'")
    row = page.locator("#entity-vendors")
    expect(row.locator(".run-state")).to_contain_text("succeeded")

    row.get_by_role("button", name="Sync now").click()
    expect(page.locator("#live .flash")).to_contain_text("Sync queued for vendors.")
    wait_for(lambda: SyncRun.objects.filter(connection=connection, entity="vendors", mode="incremental",
                                            trigger="dashboard", status="succeeded").exists(),
             what="the incremental run to succeed")
    # The polled table shows the outcome by itself, then stops polling.
    expect(page.locator("#live")).to_have_attribute("data-polling", "off", timeout=WAIT_MS)
    expect(page.locator("#live table.runs tbody tr").first).to_contain_text("succeeded")
    expect(page.locator("#live table.runs tbody tr").first).to_contain_text("dashboard")
    assert page.evaluate("window.__noReload") == "still here"

    page.once("dialog", lambda dialog: dialog.accept())  # a full resync asks first (test_browser_confirmations.py)
    page.locator("#entity-assets").get_by_role("button", name="Full resync").click()
    expect(page.locator("#live .flash")).to_contain_text("Full re-sync queued for assets.")
    expect(page.locator("#live")).to_have_attribute("data-polling", "off", timeout=WAIT_MS)
    newest = page.locator("#live table.runs tbody tr").first
    expect(newest).to_contain_text("full")
    expect(newest).to_contain_text("succeeded")
    assert page.evaluate("window.__noReload") == "still here"
    run = SyncRun.objects.filter(connection=connection, entity="assets", trigger="dashboard").get()
    assert (run.mode, run.status, run.requested_by) == ("full", "succeeded", "ops")
    shoot(page, "connection")


def test_it_cancels_a_slow_run(page, live_server, celery_worker_process):
    from playwright.sync_api import expect

    connection = sandbox_connection(name="Slow plant", entities=["vendors"], records=200, page_size=5,
                                    faults={"slow_page_seconds": 1})
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    row = page.locator("#entity-vendors")
    expect(row.locator(".run-state")).to_contain_text("running", timeout=WAIT_MS)
    expect(row.locator(".progress")).to_contain_text("records", timeout=WAIT_MS)
    shoot(page, "connection-running")
    row.get_by_role("button", name="Cancel").click()
    expect(row.locator(".run-state")).to_contain_text("cancelled", timeout=WAIT_MS)
    run = SyncRun.objects.get(connection=connection, entity="vendors")
    assert run.status == SyncRun.Status.CANCELLED and run.pages < 40  # stopped long before its 40 pages

    page.goto(f"{live_server.url}/runs/{run.pk}/")
    expect(page.locator("h1")).to_contain_text("cancelled")
    expect(page.locator(".timeline")).to_contain_text("cancelled")
    shoot(page, "run")


def test_it_acknowledges_an_incident(page, live_server, celery_worker_process):
    from playwright.sync_api import expect

    connection = sandbox_connection(name="Broken plant", entities=["vendors"], verify=False,
                                    faults={"auth_failure": True})
    incident = wait_for(lambda: Incident.objects.filter(connection=connection).first(), what="the incident")
    page.goto(f"{live_server.url}/failures/")
    group = page.locator(f'tr[data-group="{connection.pk}-UPSTREAM_AUTHENTICATION_FAILED"]')
    expect(group).to_contain_text("Reauthorize the connection")
    shoot(page, "failures")
    group.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#groups .flash")).to_contain_text("Acknowledged 1 incident")
    expect(group).to_contain_text("acknowledged")
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED and incident.acknowledged_by == "ops"


def test_it_screenshots_every_page(page, live_server, celery_worker_process):
    from playwright.sync_api import expect

    from core.audit import Actor, audit_record
    from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EndpointFactory

    connection = sandbox_connection(name="Screenshot plant", entities=["vendors", "assets", "work_orders"])
    failing = sandbox_connection(name="Failing plant", entities=["vendors"], verify=False,
                                 faults={"auth_failure": True})
    # What real installations have: long names, long URLs, long ids. None may push a page sideways.
    long_named = sandbox_connection(
        name="Nordwerk Industrieanlagen GmbH Werk Süd-Ost Instandhaltung SAP-S4HANA-PRD-100-MANDANT-400",
        entities=["inventory_items"])
    wait_for(lambda: settled(connection) and settled(failing) and settled(long_named), what="the initial syncs")
    endpoint = EndpointFactory(connection=failing, url="https://hooks.example.com/plantsync",
                               description="ERP backend")
    long_endpoint = EndpointFactory(
        url="https://integration-gateway.eu-central-1.customer-platform.example.com/api/v2/webhooks/"
            "plantsync/0f8e4c1a-5b7d-4d2e-9a61-3c2b8f7e6d54?tenant=nordwerk-industrieanlagen-gmbh",
        description="Customer platform gateway (EU), retries on its side as well",
        event_types=["sync.failed", "connection.status_changed", "incident.opened"])
    audit_record(actor=Actor(name="integration-admin@nordwerk-industrieanlagen.example.com", source="api",
                             request_id="req_01JD7X3Q9W5K8M2N4P6R8T0V2X4Z6B8D"), action="connection.updated",
                 target=long_named, connection=long_named, details={"sync_interval_minutes": 30})
    DeliveryFactory.create_batch(3, endpoint=endpoint, status="succeeded", last_status_code=200, last_latency_ms=84)
    delivery = DeliveryFactory(endpoint=endpoint, status="failed", attempts=2, last_status_code=503,
                               last_error="HTTP 503: not a 2xx answer.")
    AttemptFactory(delivery=delivery, number=1, status_code=503, response_snippet="Service Unavailable",
                   error="HTTP 503: not a 2xx answer.")
    AttemptFactory(delivery=delivery, number=2, status_code=None, error="connection refused", duration_ms=3,
                   response_snippet="")
    run = SyncRun.objects.filter(connection=connection).first()
    failed_run = SyncRun.objects.filter(connection=failing).first()

    pages = {
        "overview": "/", "overview-7d": "/?range=7d", "overview-30d": "/?range=30d",
        "connections": "/connections/", "connection-idle": f"/connections/{connection.pk}/",
        "connection-idle-30d": f"/connections/{connection.pk}/?range=30d",
        "connection-failing": f"/connections/{failing.pk}/", "connection-long": f"/connections/{long_named.pk}/",
        "connection-disconnect": f"/connections/{connection.pk}/disconnect",
        "connect": "/connect/", "connect-form": "/connect/sandbox/",
        "runs": "/runs/", "runs-failed": "/runs/?status=failed", "run-succeeded": f"/runs/{run.pk}/",
        "run-failed": f"/runs/{failed_run.pk}/", "failures-open": "/failures/", "audit": "/audit/",
        "webhooks": "/webhooks/", "webhook-endpoint": f"/webhooks/{endpoint.pk}/",
        "webhook-endpoint-long": f"/webhooks/{long_endpoint.pk}/",
        "webhook-endpoint-7d": f"/webhooks/{endpoint.pk}/?range=7d",
        "webhook-new": "/webhooks/new", "webhook-new-scoped": f"/webhooks/new?connection={failing.pk}",
        "webhook-edit": f"/webhooks/{endpoint.pk}/edit", "webhook-delete": f"/webhooks/{endpoint.pk}/delete",
        "webhook-delivery": f"/webhooks/deliveries/{delivery.pk}/",
    }
    for name, path in pages.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        expect(page.locator("main h1").first).to_be_visible()
        shoot_both(page, name)

    page.goto(f"{live_server.url}/connect/sandbox/")
    page.fill("#id_customer_name", "Screenshot customer")
    page.fill("#id_name", "Screenshot ERP")
    page.fill("#id_credentials__api_key", "k")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connection test passed")
    shoot(page, "connect-tested")
    page.fill("#id_config__faults", '{"auth_failure": true}')
    page.get_by_role("button", name="Save and start the first sync").click()
    expect(page.locator("#connect-form > .flash-error")).to_contain_text("UPSTREAM_AUTHENTICATION_FAILED")
    shoot_both(page, "connect-refused")
    page.fill("#id_config__faults", "{}")
    page.fill("#id_credentials__api_key", "k")
    page.get_by_role("button", name="Save and start the first sync").click()
    expect(page.locator(".secret-once")).to_contain_text("shown only this once")
    shoot_both(page, "connect-done")

    context = page.context.browser.new_context()
    login = context.new_page()
    login.goto(f"{live_server.url}/login/")
    shoot(login, "login")
    context.close()


def test_it_reauthorizes_a_connection_whose_credentials_fail(page, live_server, celery_worker_process):
    from playwright.sync_api import expect

    connection = sandbox_connection(name="Locked plant", entities=["vendors"], verify=False,
                                    faults={"auth_failure": True})
    wait_for(lambda: Connection.objects.filter(pk=connection.pk, status=Connection.Status.AUTH_FAILED).exists(),
             what="the initial sync to hit the auth failure")
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.evaluate("window.__noReload = 'still here'")
    card = page.locator("#reauthorize")
    expect(card).to_contain_text("Reauthorization required")
    expect(card).to_contain_text("401 Unauthorized")  # the status reason says why
    shoot_both(page, "connection-auth-failed")

    # The sandbox's fault still refuses every key: the catalogued error shows in the form.
    card.get_by_label("API key").fill("still-refused")
    card.get_by_role("button", name="Reauthorize").click()
    flash = page.locator("#reauthorize .flash-error")
    expect(flash).to_contain_text("UPSTREAM_AUTHENTICATION_FAILED")
    expect(flash).to_contain_text("What to do: Reauthorize the connection with valid credentials.")
    expect(page.locator("#reauthorize").get_by_label("API key")).to_have_value("")
    shoot_both(page, "connection-reauthorize-refused")
    connection.refresh_from_db()
    assert connection.status == Connection.Status.AUTH_FAILED and connection.credentials == {"api_key": "k"}

    # The upstream is fixed (the fault lives in config, which the form does not touch); new key.
    Connection.objects.filter(pk=connection.pk).update(config={**connection.config, "faults": {}})
    page.locator("#reauthorize").get_by_label("API key").fill("new-key")
    page.locator("#reauthorize").get_by_role("button", name="Reauthorize").click()
    expect(page.locator("#connection > .flash-success")).to_contain_text("The connection is active again")
    expect(page.locator("h1 .badge")).to_have_text("active")
    expect(page.locator("#reauthorize")).to_have_count(0)
    shoot_both(page, "connection-reauthorized")
    connection.refresh_from_db()
    assert (connection.status, connection.credentials) == (Connection.Status.ACTIVE, {"api_key": "new-key"})

    page.get_by_role("button", name="Sync all now").click()
    expect(page.locator("#live")).to_have_attribute("data-polling", "off", timeout=WAIT_MS)
    expect(page.locator("#entity-vendors .run-state")).to_contain_text("succeeded")
    assert page.evaluate("window.__noReload") == "still here"


def test_it_adds_edits_and_deletes_a_webhook_endpoint(page, live_server, celery_worker_process):
    from playwright.sync_api import expect

    from webhooks.models import Endpoint

    connection = sandbox_connection(name="Hooked plant", entities=["vendors"])
    wait_for(lambda: settled(connection), what="the initial sync")
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.get_by_role("link", name="+ Add endpoint").click()
    expect(page.locator("#id_connection")).to_have_value(str(connection.pk))  # scoped to where it came from

    page.locator("#id_url").fill("http://hooks.example.com/plantsync")
    page.get_by_label("sync.failed", exact=True).check()
    page.get_by_label("incident.opened", exact=True).check()
    page.get_by_role("button", name="Add endpoint").click()
    form = page.locator("#endpoint-form")
    expect(form.locator(".flash-error")).to_contain_text("VALIDATION_FAILED")
    expect(form.locator(".field.has-error")).to_contain_text("Plain http:// is refused")
    shoot_both(page, "webhook-new-refused")
    assert not Endpoint.objects.exists()

    page.locator("#id_url").fill("https://hooks.example.com/plantsync")
    page.locator("#id_description").fill("ERP backend")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator(".secret-once")).to_contain_text("shown only this once")
    endpoint = Endpoint.objects.get()
    page.wait_for_url(f"{live_server.url}/webhooks/{endpoint.pk}/")
    expect(page.get_by_label("New signing secret")).to_have_value(endpoint.secret)
    assert (endpoint.connection_id, endpoint.event_types) == (connection.pk, ["sync.failed", "incident.opened"])
    shoot_both(page, "webhook-created")

    page.get_by_role("link", name="Edit").click()
    page.locator("#id_description").fill("ERP backend, EU region")
    page.locator("#id_connection").select_option("")
    page.get_by_role("button", name="Save endpoint").click()
    expect(page.locator("#endpoint .flash-success")).to_contain_text("Endpoint saved.")
    expect(page.locator("#endpoint")).to_contain_text("all connections")
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.connection_id) == ("ERP backend, EU region", None)

    page.get_by_role("link", name="Delete…").click()
    expect(page.locator("main h1")).to_contain_text("Delete this webhook endpoint?")
    page.get_by_role("button", name="Delete endpoint").click()
    page.wait_for_url(f"{live_server.url}/webhooks/")
    expect(page.locator(".messages")).to_contain_text("Deleted the endpoint https://hooks.example.com/plantsync")
    expect(page.locator("#results")).to_contain_text("No webhook endpoints yet")
    shoot_both(page, "webhooks-empty")
    assert not Endpoint.objects.exists()


def test_it_disconnects_after_a_confirmation(page, live_server, celery_worker_process):
    from playwright.sync_api import expect

    connection = sandbox_connection(name="Retired plant", entities=["vendors"])
    wait_for(lambda: settled(connection), what="the initial sync")
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.get_by_role("link", name="Disconnect…").click()
    expect(page.locator("main h1")).to_contain_text("Disconnect Retired plant?")
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE  # nothing happened yet
    page.get_by_role("button", name="Disconnect Retired plant").click()
    page.wait_for_url(f"{live_server.url}/connections/{connection.pk}/")
    expect(page.locator(".messages")).to_contain_text("Disconnected: the API token is revoked")
    expect(page.locator("h1 .badge")).to_have_text("disconnected")
    expect(page.get_by_role("button", name="Sync now")).to_have_count(0)
    shoot_both(page, "connection-disconnected")
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISCONNECTED and connection.token_hash is None


def test_it_switches_the_chart_range_without_a_reload(page, live_server, celery_worker_process):
    from playwright.sync_api import expect

    connection = sandbox_connection(name="Charted plant", entities=["vendors"])
    wait_for(lambda: settled(connection), what="the initial sync")
    page.goto(f"{live_server.url}/")
    page.evaluate("window.__noReload = 'still here'")
    expect(page.locator("#charts figcaption").first).to_contain_text("in 24 h")
    page.locator("#charts .ranges").get_by_role("link", name="30 days").click()
    expect(page.locator("#charts figcaption").first).to_contain_text("in 30 days")
    expect(page.locator('#charts .ranges a[aria-current="true"]')).to_have_text("30 days")
    assert page.url.endswith("/?range=30d") and page.evaluate("window.__noReload") == "still here"
    shoot_both(page, "overview-30d-switched")
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.locator("#charts .ranges").get_by_role("link", name="7 days").click()
    expect(page.locator("#charts svg").first).to_have_attribute("aria-label", "Average successful run, per 6 hours, "
                                                                 "last 7 days")
