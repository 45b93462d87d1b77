"""Every destructive or expensive button asks first, in a real browser (Debian's chromium,
headless, against a live server): full resync of one entity or of all, pause, rotate token, and
the webhook endpoint's rotate secret ask through htmx's hx-confirm on the form that sends the
request; disconnect and the endpoint's delete ask on a page of their own, and so does a full
resync without JavaScript. Each is dismissed first, and nothing may be queued or changed; then
accepted once, and it happens. No worker runs: a queued run stays queued, which is what is checked."""

import pytest

from connections.models import Connection
from connections.services import connection_by_token
from core.models import AuditEvent
from syncs.models import SyncRun
from tests.dashboard import test_browser as browser_pages
from tests.dashboard.factories import idle_connection
from tests.syncs.factories import TEST_ACTOR

pytestmark = [pytest.mark.browser, pytest.mark.real_clock]

# The logged-in page of test_browser.py: an operator; no request may leave the live server.
operator_login = browser_pages.operator_login
page = browser_pages.page


class Dialogs:
    """What the page asked (window.confirm), and the POSTs it sent; each dialog is answered once."""

    def __init__(self, page):
        self.asked, self.posts = [], []
        page.on("request", lambda request: self.posts.append(request.url) if request.method == "POST" else None)
        self.page = page

    def answer(self, accept: bool) -> None:
        def handle(dialog):
            self.asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        self.page.once("dialog", handle)


def dismiss_then_accept(page, dialogs: Dialogs, button, *, path: str) -> str:
    """Clicks `button`, dismisses the question (nothing may be sent), then clicks again and
    accepts (the form is sent once). Returns the question."""
    dialogs.answer(accept=False)
    button.click()
    browser_pages.wait_for(lambda: dialogs.asked, what="the confirmation dialog")
    # window.confirm blocks the page until answered, so htmx has decided by the time the next
    # call into the page returns: a dismissed question sent nothing.
    page.evaluate("1")
    assert not [url for url in dialogs.posts if url.endswith(path)], "sent although dismissed"
    question = dialogs.asked.pop()
    dialogs.answer(accept=True)
    with page.expect_response(lambda response: response.url.endswith(path) and response.request.method == "POST"):
        button.click()
    assert dialogs.asked.pop() == question
    assert len([url for url in dialogs.posts if url.endswith(path)]) == 1
    dialogs.posts.clear()
    return question


def full_runs(connection) -> list[str]:
    return sorted(SyncRun.objects.filter(connection=connection, mode="full", status="queued")
                  .values_list("entity", flat=True))


def test_the_sync_and_connection_buttons_ask_first(page, live_server):
    from playwright.sync_api import expect

    connection = idle_connection(name="Plant 7 ERP", entities=["vendors", "assets"])
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    dialogs = Dialogs(page)

    row = page.locator("#entity-vendors")
    question = dismiss_then_accept(page, dialogs, row.get_by_role("button", name="Full resync", exact=True),
                                   path=f"/connections/{connection.pk}/sync")
    assert question.startswith("Full re-sync of vendors?")
    expect(page.locator("#live .flash-success")).to_contain_text("Full re-sync queued for vendors.")
    assert full_runs(connection) == ["vendors"]

    # The live region now polls while vendors is queued; the "all" button is in it.
    question = dismiss_then_accept(page, dialogs, page.get_by_role("button", name="Full resync all", exact=True),
                                   path=f"/connections/{connection.pk}/sync")
    assert question.startswith("Full re-sync of every entity of Plant 7 ERP?")
    expect(page.locator("#live .flash-success")).to_contain_text("Full re-sync queued for assets.")
    assert full_runs(connection) == ["assets", "vendors"]

    old_prefix = connection.token_prefix
    question = dismiss_then_accept(page, dialogs, page.get_by_role("button", name="Rotate token", exact=True),
                                   path=f"/connections/{connection.pk}/rotate-token")
    assert question.startswith("Rotate the API token?")
    expect(page.locator(".secret-once")).to_contain_text("shown only this once")
    connection.refresh_from_db()
    assert connection.token_prefix != old_prefix
    assert connection_by_token(token=page.get_by_label("New API token").input_value()).pk == connection.pk

    question = dismiss_then_accept(page, dialogs, page.get_by_role("button", name="Pause", exact=True),
                                   path=f"/connections/{connection.pk}/pause")
    assert question.startswith("Pause Plant 7 ERP?")
    expect(page.locator("#connection .flash-success")).to_contain_text("Paused")
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED
    assert AuditEvent.objects.filter(action="connection.paused").count() == 1


def test_disconnect_asks_on_a_page_of_its_own(page, live_server):
    from playwright.sync_api import expect

    connection = idle_connection(name="Plant 8 ERP", entities=["vendors"])
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    dialogs = Dialogs(page)
    page.get_by_role("link", name="Disconnect…").click()
    page.wait_for_url(f"{live_server.url}/connections/{connection.pk}/disconnect")
    expect(page.locator("main h1")).to_contain_text("Disconnect Plant 8 ERP?")
    page.get_by_role("link", name="Keep it connected").click()  # "dismiss"
    page.wait_for_url(f"{live_server.url}/connections/{connection.pk}/")
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE and dialogs.posts == []

    page.get_by_role("link", name="Disconnect…").click()
    page.get_by_role("button", name="Disconnect Plant 8 ERP").click()
    page.wait_for_url(f"{live_server.url}/connections/{connection.pk}/")
    expect(page.locator(".messages")).to_contain_text("Disconnected")
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISCONNECTED


def test_the_webhook_endpoint_buttons_ask_first(page, live_server):
    from playwright.sync_api import expect

    from webhooks.models import Endpoint
    from webhooks.services import endpoint_create

    endpoint, _ = endpoint_create(url="https://hooks.example.com/plantsync", actor=TEST_ACTOR)
    page.goto(f"{live_server.url}/webhooks/{endpoint.pk}/")
    dialogs = Dialogs(page)
    rotated_before = AuditEvent.objects.filter(action="webhook_endpoint.secret_rotated").count()
    question = dismiss_then_accept(page, dialogs, page.get_by_role("button", name="Rotate secret", exact=True),
                                   path=f"/webhooks/{endpoint.pk}/rotate-secret")
    assert question.startswith("Rotate the signing secret?")
    expect(page.locator(".secret-once")).to_be_visible()
    assert AuditEvent.objects.filter(action="webhook_endpoint.secret_rotated").count() == rotated_before + 1

    page.get_by_role("link", name="Delete…").click()
    expect(page.locator("main h1")).to_contain_text("Delete this webhook endpoint?")
    page.go_back()
    assert Endpoint.objects.filter(pk=endpoint.pk).exists() and dialogs.posts == []


def test_without_javascript_a_full_resync_asks_on_a_page(browser, live_server, operator_login):
    from playwright.sync_api import expect

    connection = idle_connection(name="Plant 9 ERP", entities=["vendors", "assets"])
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", "ops")
        page.fill("#id_password", "a-long-password")
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/connections/{connection.pk}/")
        page.get_by_role("button", name="Full resync all", exact=True).click()
        expect(page.locator("main h1")).to_have_text("Full re-sync of every entity?")
        page.get_by_role("link", name="Cancel").click()
        page.wait_for_url(f"{live_server.url}/connections/{connection.pk}/")
        assert full_runs(connection) == []

        page.locator("#entity-assets").get_by_role("button", name="Full resync", exact=True).click()
        expect(page.locator("main h1")).to_have_text("Full re-sync of assets?")
        page.get_by_role("button", name="Start the full re-sync").click()
        page.wait_for_url(f"{live_server.url}/connections/{connection.pk}/")
        expect(page.locator(".messages")).to_contain_text("Full re-sync queued for assets.")
        assert full_runs(connection) == ["assets"]
    finally:
        context.close()
