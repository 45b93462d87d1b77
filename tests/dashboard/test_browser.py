"""The dashboard in a real browser (Debian's chromium, headless) against a live server and a
real Celery worker: log in, Sync now and watch it succeed without a reload, Full resync, cancel a
slow run, acknowledge an incident, and a screenshot of every page in test-artifacts/screenshots/."""

import os
import time
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# are still synchronous and safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from syncs.models import Incident, SyncRun  # noqa: E402
from tests.conftest import skip_or_fail  # noqa: E402
from tests.dashboard.factories import OPERATOR_PERMISSIONS, grant  # noqa: E402
from tests.syncs.factories import sandbox_connection  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.worker]

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def operator_login(django_user_model, transactional_db):
    user = django_user_model.objects.create_user("ops", "ops@example.com", "a-long-password")
    return grant(user, *OPERATOR_PERMISSIONS)


@pytest.fixture
def page(browser, live_server, operator_login):
    """A logged-in page; any request leaving the live server (a CDN, say) fails the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
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

    from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EndpointFactory

    connection = sandbox_connection(name="Screenshot plant", entities=["vendors", "assets", "work_orders"])
    failing = sandbox_connection(name="Failing plant", entities=["vendors"], verify=False,
                                 faults={"auth_failure": True})
    wait_for(lambda: settled(connection) and settled(failing), what="the initial syncs")
    endpoint = EndpointFactory(connection=failing, url="https://hooks.example.com/plantsync",
                               description="ERP backend")
    DeliveryFactory.create_batch(3, endpoint=endpoint, status="succeeded", last_status_code=200, last_latency_ms=84)
    delivery = DeliveryFactory(endpoint=endpoint, status="failed", attempts=2, last_status_code=503,
                               last_error="HTTP 503: not a 2xx answer.")
    AttemptFactory(delivery=delivery, number=1, status_code=503, response_snippet="Service Unavailable")
    AttemptFactory(delivery=delivery, number=2, status_code=None, error="connection refused", duration_ms=3)
    run = SyncRun.objects.filter(connection=connection).first()
    failed_run = SyncRun.objects.filter(connection=failing).first()

    pages = {
        "overview": "/", "connections": "/connections/", "connection-idle": f"/connections/{connection.pk}/",
        "connection-failing": f"/connections/{failing.pk}/", "connect": "/connect/", "connect-form": "/connect/sandbox/",
        "runs": "/runs/", "runs-failed": "/runs/?status=failed", "run-succeeded": f"/runs/{run.pk}/",
        "run-failed": f"/runs/{failed_run.pk}/", "failures-open": "/failures/", "audit": "/audit/",
        "webhooks": "/webhooks/", "webhook-endpoint": f"/webhooks/{endpoint.pk}/",
        "webhook-delivery": f"/webhooks/deliveries/{delivery.pk}/",
    }
    for name, path in pages.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        expect(page.locator("main h1").first).to_be_visible()
        shoot(page, name)

    page.goto(f"{live_server.url}/connect/sandbox/")
    page.fill("#id_customer_name", "Screenshot customer")
    page.fill("#id_name", "Screenshot ERP")
    page.fill("#id_credentials__api_key", "k")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connection test passed")
    shoot(page, "connect-tested")
    page.fill("#id_credentials__api_key", "k")
    page.get_by_role("button", name="Save and start the first sync").click()
    expect(page.locator(".secret-once")).to_contain_text("shown only this once")
    shoot(page, "connect-done")

    context = page.context.browser.new_context()
    login = context.new_page()
    login.goto(f"{live_server.url}/login/")
    shoot(login, "login")
    context.close()
