"""Staff send a connect link from the dashboard in a real browser: the form, the URL shown once
with its Copy button, the list, and Revoke after the confirmation dialog (dismissed: nothing happens)."""

import pytest

from connections.models import ConnectLink
from core.tokens import token_hash
from tests.dashboard import test_browser as browser_pages
from tests.dashboard.test_browser import WAIT_MS, shoot

pytestmark = [pytest.mark.browser, pytest.mark.real_clock]

# The logged-in operator page of test_browser.py (no request may leave the live server).
operator_login = browser_pages.operator_login
page = browser_pages.page


def test_it_sends_a_link_shows_it_once_and_revokes_it(page, live_server):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/connections/")
    page.get_by_role("link", name="Send a connect link").click()
    page.fill("#id_customer_name", "Acme Plant")
    page.check('input[name="connectors"][value="sandbox"]')
    page.check('input[name="entities"][value="vendors"]')
    page.get_by_role("button", name="Create the link").click()
    url_input = page.locator("#connect-link-url")
    expect(url_input).to_be_visible()
    url = url_input.input_value()
    link = ConnectLink.objects.get()
    assert url.startswith(f"{live_server.url}/link/clk_") and link.token_hash == token_hash(url.split("/")[-2])
    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("(() => { const i = document.getElementById('connect-link-url');"
                         " return i.selectionStart === 0 && i.selectionEnd === i.value.length; })()")
    shoot(page, "connect-link-created")

    page.get_by_role("link", name="All connect links").click()
    row = page.locator(f'tr[data-link="{link.pk}"]')
    expect(row.locator(".link-state")).to_have_text("active")
    assert url not in page.content()
    # Dismissed, nothing happens.
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_timeout(500)
    assert ConnectLink.objects.get().revoked_at is None
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(f'tr[data-link="{link.pk}"] .link-state')).to_have_text("revoked", timeout=WAIT_MS)
    link.refresh_from_db()
    assert link.revoked_at is not None
