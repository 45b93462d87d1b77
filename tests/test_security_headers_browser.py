"""The production Content-Security-Policy in a real browser (Debian's chromium, headless): the
login page, every dashboard list, a connection, the admin and the API docs report no violation,
and an htmx POST still passes CSRF with the cookie HttpOnly."""

import os

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# are still synchronous and safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from connections.models import Connection
from tests import test_security_headers
from tests.syncs.factories import sandbox_connection

pytestmark = [pytest.mark.browser, pytest.mark.real_clock]
# The production settings' fixtures, shared with the in-process header tests.
production, production_values = test_security_headers.production, test_security_headers.production_values

# Every violation the page sees (a blocked script, style, image or eval), sent to the test.
REPORT_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (e) =>
    window.reportViolation(
        `${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));"""
PAGES = ["/", "/connections/", "/runs/", "/failures/", "/webhooks/", "/audit/", "/connect/", "/admin/",
         "/admin/connections/connection/", "/admin/auth/user/add/"]


@pytest.fixture
def violations() -> list[str]:
    return []


@pytest.fixture
def page(browser, live_server, production, violations, django_user_model, transactional_db):
    django_user_model.objects.create_superuser("root", "root@example.com", "a-long-password")
    context = browser.new_context()
    page = context.new_page()
    page.expose_function("reportViolation", lambda violation: violations.append(violation))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()


def log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "a-long-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_it_reports_no_csp_violation_on_the_dashboard_and_the_admin(page, live_server, violations):
    connection = sandbox_connection(name="CSP plant", entities=["vendors"])
    log_in(page, live_server)
    for path in [*PAGES, f"/connections/{connection.pk}/", f"/admin/connections/connection/{connection.pk}/change/"]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.ok and "script-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
    assert violations == [], "\n".join(sorted(set(violations)))


def test_it_keeps_htmx_posts_working_under_the_csp_with_an_httponly_csrf_cookie(page, live_server, violations):
    from playwright.sync_api import expect

    connection = sandbox_connection(name="CSP plant", entities=["vendors"])
    log_in(page, live_server)
    assert all(cookie["httpOnly"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.evaluate("window.__noReload = 'still here'")
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    assert page.evaluate("window.__noReload") == "still here", "htmx did the POST, not a full page"
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.PAUSED
    assert violations == [], "\n".join(sorted(set(violations)))


def test_it_renders_the_api_docs_under_the_csp(page, live_server, violations):
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    page.wait_for_load_state("networkidle")
    assert violations == [], "\n".join(sorted(set(violations)))
