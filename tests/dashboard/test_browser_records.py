"""The record browser in a real browser (headless chromium) against a live server: from the
connection page, Browse records of purchase orders, search a number (htmx swaps the results and
pushes the URL), open the record and read its raw upstream copy, escaped."""

import pytest

from syncs.writers import record_id
from tests.dashboard import test_browser as browser_pages
from tests.dashboard.factories import idle_connection, records
from tests.dashboard.test_browser import WAIT_MS, shoot

pytestmark = [pytest.mark.browser, pytest.mark.real_clock]

operator_login = browser_pages.operator_login
page = browser_pages.page


def test_it_browses_searches_and_opens_a_record(page, live_server):
    from playwright.sync_api import expect

    connection = idle_connection(name="Records plant")
    records(connection, 120)
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.locator("#entity-purchase_orders").get_by_role("link", name="Browse records").click()
    page.wait_for_url(f"**/connections/{connection.pk}/records/purchase_orders", timeout=WAIT_MS)
    expect(page.locator("h1")).to_have_text("Records: purchase orders")
    expect(page.locator("#results tbody tr")).to_have_count(50)
    expect(page.get_by_role("link", name="Older →")).to_be_visible()
    shoot(page, "records")

    page.get_by_role("searchbox", name="Number or remote id").fill("4500000042")
    page.get_by_role("searchbox", name="Number or remote id").press("Enter")
    expect(page.locator("#results tbody tr")).to_have_count(1, timeout=WAIT_MS)
    page.wait_for_url("**?q=4500000042**", timeout=WAIT_MS)  # htmx pushed the search into the URL

    page.get_by_role("link", name="4500000042").click()
    page.wait_for_url(f"**/records/purchase_orders/{records_id(connection, 'R42')}", timeout=WAIT_MS)
    expect(page.locator("h1")).to_contain_text("4500000042")
    raw = page.locator("pre.raw")
    expect(raw).to_contain_text('"EBELN": "4500000042"')
    expect(raw).to_contain_text('"NOTE": "<b>bold</b>"')  # shown as text: the markup was escaped
    assert page.locator("pre.raw b").count() == 0
    shoot(page, "record")


def records_id(connection, remote_id: str) -> str:
    return str(record_id(connection_id=connection.pk, entity="purchase_orders", remote_id=remote_id))
