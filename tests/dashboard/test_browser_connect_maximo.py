"""Connecting IBM Maximo from the dashboard, in a real browser (headless chromium) against a live
server, a real Celery worker and the loopback Maximo simulator (tests/upstreams/maximo.py): pick
the connector on /connect/, fill the form its fields generate (the sites as a JSON list), Test
connection (one line per ticked entity), save, and watch the initial full sync store what the
simulator holds. The helpers come from tests/dashboard/test_browser_connect.py; the form check
and the fill are Maximo's own, since its secret is an API key and `sites` is a JSON textarea."""

import pytest

from connections.connectors.maximo import MaximoConnector
from tests.dashboard import test_browser as browser_pages
from tests.dashboard.test_browser import WAIT_MS, shoot
from tests.dashboard.test_browser_connect import (
    field,
    open_connect_form,
    save_and_watch_the_first_sync,
    shows_records,
    stored_ids,
)
from tests.upstreams.maximo import API_KEY, SERVER_ZONE, MaximoSimulator

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.real_clock]

operator_login = browser_pages.operator_login
page = browser_pages.page


@pytest.fixture
def maximo():
    simulator = MaximoSimulator(max_page_size=5).start()  # the first sync follows nextPage over pages
    yield simulator
    simulator.stop()


def check_maximo_fields(page) -> None:
    from playwright.sync_api import expect

    for group, specs in (("config", MaximoConnector.config_fields),
                         ("credentials", MaximoConnector.credential_fields)):
        for spec in specs:
            block = field(page, f"{group}__{spec.name}")
            expect(block.locator("label")).to_have_text(f"{spec.label}:")
            expect(block.locator(".help")).to_have_text(spec.help_text)
    expect(page.locator("#id_config__base_url")).to_have_attribute("type", "url")
    assert page.locator("#id_config__sites").evaluate("e => e.tagName") == "TEXTAREA"
    expect(page.locator("#id_config__timezone")).to_have_value("UTC")
    expect(page.locator("#id_config__requests_per_minute")).to_have_attribute("min", "1")
    expect(page.locator("#id_credentials__api_key")).to_have_attribute("type", "password")
    expect(page.locator("#id_credentials__api_key")).to_have_attribute("required", "")


def test_it_connects_maximo_tests_each_entity_and_syncs_the_simulator(page, live_server, maximo,
                                                                      celery_worker_process):
    from playwright.sync_api import expect

    connector = MaximoConnector
    entities = list(connector.entities)
    open_connect_form(page, live_server, connector)
    check_maximo_fields(page)

    page.fill("#id_customer_name", "Eagle NA")
    page.fill("#id_name", "Maximo production")
    for entity in connector.entities:
        page.locator(f'input[name="entities"][value="{entity}"]').check()
    page.fill("#id_config__base_url", maximo.url)
    page.fill("#id_config__timezone", SERVER_ZONE)
    page.fill("#id_config__sites", '["BEDFORD", "NASHUA"]')
    page.fill("#id_credentials__api_key", API_KEY)
    shoot(page, "connect-maximo-filled")

    page.evaluate("window.__noReload = 'still here'")
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("Connection test passed", timeout=WAIT_MS)
    expect(result.locator("ul.entity-tests li")).to_have_count(len(entities))
    for entity in entities:
        line = result.locator(f'li[data-entity="{entity}"]')
        expect(line).to_have_attribute("data-outcome", "ok")
        expect(line).to_contain_text(": ok")
    assert page.evaluate("window.__noReload") == "still here"
    expect(page.locator("#id_credentials__api_key")).to_have_value(API_KEY)
    probes = [r for r in maximo.requests if r["query"].get("oslc.pageSize") == "1"]
    assert {r["path"].rsplit("/", 1)[1] for r in probes} == {
        "mxapiwodetail", "mxapiasset", "mxapipo", "mxapiinventory", "mxapilocations", "mxapivendor"}
    assert all(r["status"] == 200 for r in probes)
    shoot(page, "connect-maximo-tested")

    connection = save_and_watch_the_first_sync(page, live_server, connector, name="Maximo production",
                                               entities=entities)
    assert connection.config == {"base_url": maximo.url, "timezone": SERVER_ZONE, "sites": ["BEDFORD", "NASHUA"],
                                 "requests_per_minute": 300}

    # Every record the simulator holds, under its composite id; both sites' work order 1003.
    data = maximo.data
    assert stored_ids(connection, "work_orders") == {f"{r['siteid']}/{r['wonum']}" for r in data.rows("workorders")}
    assert {"BEDFORD/1003", "NASHUA/1003"} <= stored_ids(connection, "work_orders")
    shows_records(page, "work_orders", len(data.rows("workorders")))
    assert stored_ids(connection, "purchase_orders") == {f"{r['siteid']}/{r['ponum']}" for r in data.live("pos")}
    assert stored_ids(connection, "assets") == {f"{r['siteid']}/{r['assetnum']}" for r in data.rows("assets")}
    assert stored_ids(connection, "inventory_items") == {
        f"{r['siteid']}/{r['location']}/{r['itemnum']}" for r in data.rows("inventory")}
    assert stored_ids(connection, "locations") == {f"{r['siteid']}/{r['location']}" for r in data.rows("locations")}
    assert stored_ids(connection, "vendors") == {f"{r['orgid']}/{r['company']}" for r in data.rows("vendors")}
    assert any("pageno" in r["query"] for r in maximo.data_requests("mxapiwodetail"))
