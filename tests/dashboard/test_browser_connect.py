"""Connecting the real connectors from the dashboard, in a real browser (Debian's chromium,
headless) against a live server and a real Celery worker: pick the connector on /connect/, fill the
form its fields generate, Test connection (one line per enabled entity), save, follow the link to
the connection page and watch the initial full sync store what the upstream holds.

SAP S/4HANA runs against the loopback simulator (tests/upstreams/sap.py), Tryton against the real
Tryton server of the session (tests/upstreams/tryton.py). Screenshots of the filled form and of the
test result go to test-artifacts/screenshots/."""

import pytest

from connections.connectors.sap_s4hana import SapS4HanaConnector
from connections.connectors.tryton import TrytonConnector
from connections.models import Connection
from syncs.models import Record, SyncRun
from tests.dashboard import test_browser as browser_pages
from tests.dashboard.test_browser import WAIT_MS, shoot, wait_for
from tests.upstreams import tryton as tryton_upstream
from tests.upstreams.sap import PASSWORD, SAP_CLIENT, USERNAME, SapSimulator

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.real_clock]

# The logged-in page of test_browser.py (an operator: view permissions, trigger_sync and
# manage_connection; no request may leave the live server) and the session's Tryton server.
operator_login = browser_pages.operator_login
page = browser_pages.page
tryton_server = tryton_upstream.tryton_server

SYNC_TIMEOUT = 120  # seconds for the initial full sync of every entity


@pytest.fixture
def sap():
    # A small server page, so the first sync follows d.__next over several pages.
    simulator = SapSimulator(page_size=10).start()
    yield simulator
    simulator.stop()


def field(page, name: str):
    """The `.field` block of the input named `name` (label, input, help, errors)."""
    return page.locator(".field", has=page.locator(f"#id_{name}"))


def open_connect_form(page, live_server, connector) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/connect/")
    card = page.locator("a.connector", has=page.locator("h2", has_text=connector.name))
    expect(card).to_contain_text(f"{len(connector.entities)} entities")
    card.click()
    page.wait_for_url(f"{live_server.url}/connect/{connector.key}/")
    expect(page.locator("main h1")).to_have_text(f"Connect {connector.name}")


def check_generated_fields(page, connector) -> None:
    """Every declared field is on the form, with its label, help (example included), bounds and kind."""
    from playwright.sync_api import expect

    for group, specs in (("config", connector.config_fields), ("credentials", connector.credential_fields)):
        for spec in specs:
            block = field(page, f"{group}__{spec.name}")
            expect(block.locator("label")).to_have_text(f"{spec.label}:")
            if spec.help_text:
                expect(block.locator(".help")).to_have_text(spec.help_text)
            element = block.locator(f"#id_{group}__{spec.name}")
            if spec.choices:
                assert element.evaluate("e => e.tagName") == "SELECT", spec.name
            expected_type = {"url": "url", "integer": "number", "password": "password"}.get(spec.kind, "text")
            if not spec.choices:
                expect(element).to_have_attribute("type", expected_type)
            if spec.min_value is not None:
                expect(element).to_have_attribute("min", str(spec.min_value))
            if spec.max_value is not None:
                expect(element).to_have_attribute("max", str(spec.max_value))
            if spec.required and spec.default is None:
                expect(element).to_have_attribute("required", "")


def fill_and_test(page, connector, *, name: str, config: dict, credentials: dict, entities: list[str]) -> None:
    """Fills the form, ticks `entities` only, tests: each ticked entity reads ok, no other is probed."""
    from playwright.sync_api import expect

    page.fill("#id_customer_name", f"{connector.name} customer")
    page.fill("#id_name", name)
    for entity in connector.entities:
        box = page.locator(f'input[name="entities"][value="{entity}"]')
        box.check() if entity in entities else box.uncheck()
    for key, value in config.items():
        page.fill(f"#id_config__{key}", str(value))
    for key, value in credentials.items():
        page.fill(f"#id_credentials__{key}", str(value))
    shoot(page, f"connect-{connector.key}-filled")

    page.evaluate("window.__noReload = 'still here'")
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("Connection test passed", timeout=WAIT_MS)
    lines = result.locator("ul.entity-tests li")
    expect(lines).to_have_count(len(entities))
    for entity in entities:
        line = result.locator(f'li[data-entity="{entity}"]')
        expect(line).to_have_attribute("data-outcome", "ok")
        expect(line).to_contain_text(": ok")
    assert page.evaluate("window.__noReload") == "still here"  # htmx swapped the result in place
    # The form is untouched by the test: the password is still there to save with.
    expect(page.locator("#id_credentials__password")).to_have_value(credentials["password"])
    result.scroll_into_view_if_needed()
    shoot(page, f"connect-{connector.key}-tested")


def save_and_watch_the_first_sync(page, live_server, connector, *, name: str, entities: list[str]) -> Connection:
    """Saves, follows "Watch the first sync", and waits for every entity's initial full run to succeed."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Save and start the first sync").click()
    expect(page.locator(".secret-once")).to_contain_text("shown only this once")
    connection = Connection.objects.get(name=name)
    assert (connection.connector, connection.status, connection.entities) == (connector.key, "active", entities)
    page.get_by_role("link", name="Watch the first sync").click()
    page.wait_for_url(f"{live_server.url}/connections/{connection.pk}/")

    def finished():
        runs = list(SyncRun.objects.filter(connection=connection))
        return ({r.entity for r in runs} == set(entities)
                and not any(r.status in SyncRun.ACTIVE_STATUSES for r in runs) and runs)

    runs = wait_for(finished, timeout=SYNC_TIMEOUT, what=f"the initial {connector.key} sync")
    outcomes = {r.entity: (r.mode, r.status, r.error_code, r.error_message) for r in runs}
    assert outcomes == {e: ("full", "succeeded", "", "") for e in entities}
    for entity in entities:
        expect(page.locator(f"#entity-{entity} .run-state")).to_contain_text("succeeded", timeout=WAIT_MS)
    expect(page.locator("#live")).to_have_attribute("data-polling", "off", timeout=WAIT_MS)
    shoot(page, f"connect-{connector.key}-synced")
    return connection


def shows_records(page, entity: str, count: int) -> None:
    """The connection page's Records column counts the live records of the entity."""
    from playwright.sync_api import expect

    expect(page.locator(f"#entity-{entity} td.num")).to_have_text(str(count))


def stored_ids(connection, entity: str, **filters) -> set[str]:
    return set(Record.objects.filter(connection=connection, entity=entity, **filters)
               .values_list("remote_id", flat=True))


def test_it_connects_sap_s4hana_tests_each_entity_and_syncs_the_simulator(page, live_server, sap,
                                                                           celery_worker_process):
    connector = SapS4HanaConnector
    # Maintenance orders left out: the test probes, and the connection syncs, the ticked ones only.
    entities = ["vendors", "assets", "purchase_orders"]
    open_connect_form(page, live_server, connector)
    check_generated_fields(page, connector)
    fill_and_test(page, connector, name="S/4HANA PRD 100", entities=entities,
                  config={"base_url": sap.url, "sap_client": SAP_CLIENT},
                  credentials={"username": USERNAME, "password": PASSWORD})
    connection = save_and_watch_the_first_sync(page, live_server, connector, name="S/4HANA PRD 100",
                                               entities=entities)
    assert connection.config["base_url"] == sap.url and connection.config["sap_client"] == SAP_CLIENT

    # Every purchase order the system holds; those with deletion code L are kept, marked deleted.
    upstream = sap.data.rows("purchase_orders")
    flagged = {po["PurchaseOrder"] for po in upstream if po["PurchasingDocumentDeletionCode"] == "L"}
    assert len(upstream) == 24 and flagged
    assert stored_ids(connection, "purchase_orders") == {po["PurchaseOrder"] for po in upstream}
    assert stored_ids(connection, "purchase_orders", deleted_at__isnull=False) == flagged
    shows_records(page, "purchase_orders", len(upstream) - len(flagged))
    assert len(sap.data_requests("A_PurchaseOrder")) >= 3  # 24 rows over pages of 10
    assert stored_ids(connection, "vendors") == set(sap.data.suppliers)
    assert stored_ids(connection, "assets") == set(sap.data.equipment)
    assert not Record.objects.filter(connection=connection, entity="work_orders").exists()
    assert not sap.data_requests("MaintenanceOrder")  # neither probed nor synced


def test_it_connects_tryton_tests_each_entity_and_syncs_the_real_server(page, live_server, tryton_server,
                                                                         celery_worker_process):
    from proteus import Model

    connector = TrytonConnector
    entities = list(connector.entities)
    config, credentials = tryton_server.connection_settings()
    open_connect_form(page, live_server, connector)
    check_generated_fields(page, connector)
    fill_and_test(page, connector, name="Tryton production", entities=entities, config=config,
                  credentials=credentials)
    connection = save_and_watch_the_first_sync(page, live_server, connector, name="Tryton production",
                                               entities=entities)

    # What the server holds now (other tests of the session may have edited or deleted purchases).
    with tryton_server.proteus() as cfg:
        upstream = {model: {str(r.id) for r in Model.get(model, config=cfg).find([])}
                    for model in ("purchase.purchase", "party.party", "product.product", "stock.location")}
    assert len(upstream["purchase.purchase"]) >= 6
    assert stored_ids(connection, "purchase_orders") == upstream["purchase.purchase"]
    shows_records(page, "purchase_orders", len(upstream["purchase.purchase"]))
    assert stored_ids(connection, "vendors") == upstream["party.party"]
    assert stored_ids(connection, "inventory_items") == upstream["product.product"]
    assert stored_ids(connection, "locations") == upstream["stock.location"]
