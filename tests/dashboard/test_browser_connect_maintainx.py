"""Connecting MaintainX from the dashboard, in a real browser (headless chromium) against a live
server, a real Celery worker and the loopback MaintainX simulator (tests/upstreams/maintainx.py):
pick the connector on /connect/, check the form its fields generate, Test connection with a key of
several organizations (a clear error naming the Organization ID), then with the organization set
(one line per entity), save, and watch the initial full sync store what the simulator holds. The
helpers come from tests/dashboard/test_browser_connect.py; the fill is MaintainX's own, since its
one secret is an API key."""

import pytest

from connections.connectors.maintainx import DEFAULT_BASE_URL, MaintainXConnector
from tests.dashboard import test_browser as browser_pages
from tests.dashboard.test_browser import WAIT_MS, shoot
from tests.dashboard.test_browser_connect import (
    check_generated_fields,
    open_connect_form,
    save_and_watch_the_first_sync,
    shows_records,
    stored_ids,
)
from tests.upstreams.maintainx import MULTI_ORG_KEY, ORGANIZATION_ID, MaintainXSimulator

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.real_clock]

operator_login = browser_pages.operator_login
page = browser_pages.page


@pytest.fixture
def maintainx():
    simulator = MaintainXSimulator().start()
    yield simulator
    simulator.stop()


def test_it_connects_maintainx_tests_each_entity_and_syncs_the_simulator(page, live_server, maintainx,
                                                                         celery_worker_process):
    from playwright.sync_api import expect

    connector = MaintainXConnector
    entities = list(connector.entities)
    open_connect_form(page, live_server, connector)
    check_generated_fields(page, connector)
    expect(page.locator("#id_config__base_url")).to_have_value(DEFAULT_BASE_URL)
    expect(page.locator("#id_config__requests_per_minute")).to_have_value("90")

    page.fill("#id_customer_name", "Havenwerk")
    page.fill("#id_name", "MaintainX Rotterdam")
    for entity in connector.entities:
        page.locator(f'input[name="entities"][value="{entity}"]').check()
    page.fill("#id_config__base_url", maintainx.url)
    page.fill("#id_credentials__api_key", MULTI_ORG_KEY)

    # A key of several organizations without the organization: MaintainX's 400, with what to do.
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("x-organization-id header is required", timeout=WAIT_MS)
    expect(result).to_contain_text("set the connection's Organization ID")
    expect(result).not_to_contain_text("Connection test passed")
    shoot(page, "connect-maintainx-organization-missing")

    page.fill("#id_config__organization_id", str(ORGANIZATION_ID))
    shoot(page, "connect-maintainx-filled")
    page.evaluate("window.__noReload = 'still here'")
    page.get_by_role("button", name="Test connection").click()
    expect(result).to_contain_text("Connection test passed", timeout=WAIT_MS)
    expect(result.locator("ul.entity-tests li")).to_have_count(len(entities))
    for entity in entities:
        line = result.locator(f'li[data-entity="{entity}"]')
        expect(line).to_have_attribute("data-outcome", "ok")
        expect(line).to_contain_text(": ok")
    assert page.evaluate("window.__noReload") == "still here"  # htmx swapped the result in place
    expect(page.locator("#id_credentials__api_key")).to_have_value(MULTI_ORG_KEY)
    probes = [r for r in maintainx.requests if r["query"].get("limit") == "1" and r["status"] == 200]
    assert {r["path"] for r in probes} >= {"/v1/workorders", "/v1/assets", "/v1/parts", "/v1/vendors",
                                           "/v1/locations", "/v1/purchaseorders"}
    shoot(page, "connect-maintainx-tested")

    connection = save_and_watch_the_first_sync(page, live_server, connector, name="MaintainX Rotterdam",
                                               entities=entities)
    assert connection.config == {"base_url": maintainx.url, "organization_id": str(ORGANIZATION_ID),
                                 "requests_per_minute": 90}

    # Every live record the simulator holds, the upcoming work order and every order's detail included.
    paths = {"work_orders": "workorders", "assets": "assets", "inventory_items": "parts", "vendors": "vendors",
             "locations": "locations", "purchase_orders": "purchaseorders"}
    for entity, path in paths.items():
        assert stored_ids(connection, entity) == {str(r["id"]) for r in maintainx.data.live(path)}, entity
    shows_records(page, "work_orders", len(maintainx.data.live("workorders")))
    details = {r["path"] for r in maintainx.requests if r["path"].startswith("/v1/purchaseorders/")}
    assert details >= {f"/v1/purchaseorders/{r['id']}" for r in maintainx.data.live("purchaseorders")}
    assert all(r["organization"] == str(ORGANIZATION_ID) for r in maintainx.requests if r["status"] == 200)
    assert 429 not in maintainx.statuses()
