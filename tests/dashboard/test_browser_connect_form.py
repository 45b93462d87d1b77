"""The connect form's safeguards in a real browser (Debian's chromium, headless, against a live
server): after a refused Save, Test connection brings the whole form back with fresh errors and
keeps the typed secret; a refused test marks the field it concerns; Save redirects to a page that
shows the token once with a copy button, and a refresh neither submits again nor shows it again.
All of it within the production Content-Security-Policy (no inline script)."""

import pytest

from connections.models import Connection
from tests import test_security_headers
from tests.dashboard import test_browser as browser_pages
from tests.dashboard.test_browser import shoot

pytestmark = [pytest.mark.browser, pytest.mark.real_clock]

# The logged-in page of test_browser.py: an operator; no request may leave the live server.
operator_login = browser_pages.operator_login
page = browser_pages.page
# The production settings' values (their Content-Security-Policy), shared with the header tests.
production_values = test_security_headers.production_values


def field(page, name: str):
    """The `.field` block of the input named `name` (label, input, help, errors)."""
    return page.locator(".field", has=page.locator(f"#id_{name}"))


def fill(page, **values) -> None:
    for name, value in values.items():
        page.locator(f"#id_{name}").fill(value)


def test_test_after_a_refused_save_renders_every_field_afresh(page, live_server):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/connect/sandbox/")
    fill(page, customer_name="Acme", name="Acme ERP", credentials__api_key="k-123",
         config__faults='{"auth_faliure": true}')
    page.get_by_role("button", name="Save and start the first sync").click()
    expect(field(page, "config__faults")).to_have_class("field has-error")
    expect(field(page, "config__faults").locator(".error")).to_contain_text("Unknown fault auth_faliure")
    expect(page.locator(".flash-error").first).not_to_contain_text("send the request again")
    assert not Connection.objects.exists()

    # Fixed; the key is typed again (a secret is never sent back), then Test, then a failing test.
    fill(page, config__faults='{"auth_failure": true}', credentials__api_key="k-123")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("UPSTREAM_AUTHENTICATION_FAILED")
    expect(page.locator(".field.has-error")).to_have_count(1)  # the stale errors are gone
    expect(field(page, "credentials__api_key").locator(".error")).to_contain_text("rejected these credentials")
    expect(page.locator("#id_credentials__api_key")).to_have_value("k-123")  # kept across the swap
    shoot(page, "connect-form-test-refused")

    fill(page, config__faults="{}")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connection test passed")
    expect(page.locator(".field.has-error")).to_have_count(0)


def test_save_redirects_and_a_refresh_neither_submits_nor_shows_the_token_again(page, live_server):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/connect/sandbox/")
    fill(page, customer_name="Acme", name="Acme ERP", credentials__api_key="k-123")
    page.get_by_role("button", name="Save and start the first sync").click()
    page.wait_for_url(f"{live_server.url}/connections/*/connected")
    connection = Connection.objects.get()
    assert page.url == f"{live_server.url}/connections/{connection.pk}/connected"
    token = page.get_by_label("API token").input_value()
    assert token.startswith("ctk_") and connection.token_prefix and token.startswith(connection.token_prefix)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    shoot(page, "connect-done-copied")

    page.reload()  # a GET: no "resubmit the form?" question, no second connection
    expect(page.locator(".secret-gone")).to_contain_text("can no longer be shown")
    assert token not in page.content()
    assert Connection.objects.count() == 1


def test_the_token_page_and_its_copy_button_keep_to_the_production_csp(browser, live_server, settings,
                                                                       production_values, operator_login):
    from playwright.sync_api import expect

    from tests.test_security_headers_browser import REPORT_VIOLATIONS

    settings.SECURE_CSP = production_values["SECURE_CSP"]
    violations = []
    context = browser.new_context()
    try:
        page = context.new_page()
        page.expose_function("reportViolation", lambda violation: violations.append(violation))
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", "ops")
        page.fill("#id_password", "a-long-password")
        page.click("button[type=submit]")
        response = page.goto(f"{live_server.url}/connect/sandbox/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        fill(page, customer_name="Acme", name="Acme ERP", credentials__api_key="k-123")
        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#test-result")).to_contain_text("Connection test passed")
        page.get_by_role("button", name="Save and start the first sync").click()
        page.wait_for_url(f"{live_server.url}/connections/*/connected")
        page.get_by_role("button", name="Copy").click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        assert violations == []
    finally:
        context.close()
