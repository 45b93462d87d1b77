"""Connecting Business Central from the dashboard, in a real browser against a live server and a real
Celery worker (as tests/dashboard/test_browser_connect.py does for SAP and Tryton): the generated
form, Test connection without a company (the credentials pass and the environment's companies are
listed to choose from), the company chosen and tested again (every ticked entity reads ok), save,
and the initial full sync storing what the simulator (tests/upstreams/business_central.py) holds."""

import pytest

from connections.connectors.business_central import BusinessCentralConnector
from tests.dashboard import test_browser as browser_pages
from tests.dashboard.test_browser import WAIT_MS, shoot
from tests.dashboard.test_browser_connect import (
    check_generated_fields,
    open_connect_form,
    save_and_watch_the_first_sync,
    shows_records,
    stored_ids,
)
from tests.upstreams.business_central import (
    CLIENT_ID,
    CLIENT_SECRET,
    COMPANY_ID,
    OTHER_COMPANY_ID,
    TENANT_ID,
    BusinessCentralSimulator,
)

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.real_clock]

operator_login = browser_pages.operator_login
page = browser_pages.page


@pytest.fixture
def bc():
    # A small server page, so the first sync follows @odata.nextLink over several pages.
    simulator = BusinessCentralSimulator(page_size=5).start()
    yield simulator
    simulator.stop()


def test_it_connects_business_central_lists_the_companies_and_syncs_the_simulator(page, live_server, bc,
                                                                                   celery_worker_process):
    from playwright.sync_api import expect

    connector = BusinessCentralConnector
    entities = ["vendors", "inventory_items", "purchase_orders"]  # locations left out
    name = "Business Central CRONUS"
    open_connect_form(page, live_server, connector)
    check_generated_fields(page, connector)
    expect(page.locator("#id_config__environment")).to_have_value("production")

    page.fill("#id_customer_name", "Contoso Pumps")
    page.fill("#id_name", name)
    for entity in connector.entities:
        box = page.locator(f'input[name="entities"][value="{entity}"]')
        box.check() if entity in entities else box.uncheck()
    page.fill("#id_config__tenant_id", TENANT_ID)
    page.fill("#id_config__api_base_url", bc.url)
    page.fill("#id_config__login_base_url", bc.url)
    page.fill("#id_credentials__client_id", CLIENT_ID)
    page.fill("#id_credentials__client_secret", CLIENT_SECRET)
    shoot(page, "connect-business_central-filled")

    # No company yet: the credentials work, the companies are listed, no entity can be read.
    page.evaluate("window.__noReload = 'still here'")
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#test-result")
    noun = "entity" if len(entities) == 1 else "entities"
    expect(result).to_contain_text(f"{len(entities)} of {len(entities)} {noun} cannot be read", timeout=WAIT_MS)
    choices = result.locator('.probe-choices[data-field="company_id"] li')
    expect(choices).to_have_count(2)
    expect(choices.nth(0)).to_contain_text("CRONUS USA, Inc.")
    expect(choices.nth(0)).to_have_attribute("data-value", COMPANY_ID)
    expect(choices.nth(1)).to_have_attribute("data-value", OTHER_COMPANY_ID)
    for entity in entities:
        expect(result.locator(f'li[data-entity="{entity}"]')).to_contain_text("No company is chosen")
    assert page.evaluate("window.__noReload") == "still here"
    result.scroll_into_view_if_needed()
    shoot(page, "connect-business_central-companies")

    # The company chosen from the list: every ticked entity reads ok.
    page.fill("#id_config__company_id", choices.nth(0).get_attribute("data-value"))
    page.get_by_role("button", name="Test connection").click()
    expect(result).to_contain_text("Connection test passed", timeout=WAIT_MS)
    expect(result.locator("ul.entity-tests li")).to_have_count(len(entities))
    for entity in entities:
        expect(result.locator(f'li[data-entity="{entity}"]')).to_have_attribute("data-outcome", "ok")
    expect(result.locator(".probe-choices")).to_have_count(0)
    expect(page.locator("#id_credentials__client_secret")).to_have_value(CLIENT_SECRET)
    shoot(page, "connect-business_central-tested")

    connection = save_and_watch_the_first_sync(page, live_server, connector, name=name, entities=entities)
    assert connection.config["company_id"] == COMPANY_ID and connection.config["api_base_url"] == bc.url
    connection.refresh_from_db()
    assert connection.upstream_token["access_token"] in bc.tokens  # the token the runs shared, cached encrypted

    for entity, entity_set in (("vendors", "vendors"), ("inventory_items", "items"),
                               ("purchase_orders", "purchaseOrders")):
        assert stored_ids(connection, entity) == {r["id"] for r in bc.data.collection(COMPANY_ID, entity_set)}
    shows_records(page, "purchase_orders", 18)
    assert len([r for r in bc.data_requests("purchaseOrders") if "$top" not in r["query"]]) == 4  # 18 rows, pages of 5
    assert not bc.data_requests("locations")  # neither probed nor synced
