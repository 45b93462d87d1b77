"""Live pages in a real browser against a real worker: the overview's counts and "Running now",
the runs list and a connection's header update by themselves while a run moves, then stop polling;
nothing reloads the page. And the connection picker of the runs filter, typed into and picked from
(docs/architecture.md, "Live pages, times and words")."""

import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from syncs import services as sync_services
from syncs.models import SyncRun
from tests.dashboard import test_browser
from tests.dashboard.factories import connections, runs
from tests.dashboard.test_browser import WAIT_MS, settled, wait_for
from tests.syncs.factories import sandbox_connection

# The logged-in page (and the operator it logs in as) of the dashboard's browser tests.
operator_login, page = test_browser.operator_login, test_browser.page

pytestmark = [pytest.mark.browser, pytest.mark.worker]
# Slow pages keep a run moving for a few seconds, long enough to watch it.
SLOW = {"records": 30, "page_size": 5, "faults": {"slow_page_seconds": 0.7}}


def sync_vendors(connection) -> SyncRun:
    return sync_services.sync_trigger(connection=connection, entities=["vendors"])[0].run


def test_it_updates_the_overview_runs_list_and_connection_header_while_a_run_moves(
        page, live_server, celery_worker_process):
    from playwright.sync_api import expect

    connection = sandbox_connection(name="Live plant", entities=["vendors"], **SLOW)

    # The overview, opened while the initial run is queued or running.
    page.goto(f"{live_server.url}/")
    page.evaluate("window.__noReload = 'still here'")
    expect(page.locator("#now")).to_have_attribute("data-polling", "on")
    expect(page.locator("#now .running-now")).to_contain_text("1 run", timeout=WAIT_MS)
    wait_for(lambda: settled(connection), what="the initial run")
    expect(page.locator("#now")).to_have_attribute("data-polling", "slow", timeout=WAIT_MS)
    expect(page.locator("#now")).to_contain_text("No run is queued or running.")
    expect(page.locator("#now .cards")).to_contain_text("succeeded 1")
    assert page.evaluate("window.__noReload") == "still here"

    # The runs list of this connection, opened while a new run moves.
    run = sync_vendors(connection)
    page.goto(f"{live_server.url}/runs/?connection={connection.pk}")
    page.evaluate("window.__noReload = 'still here'")
    expect(page.locator("#results")).to_have_attribute("data-polling", "on")
    wait_for(lambda: settled(connection), what="the second run")
    expect(page.locator("#results")).to_have_attribute("data-polling", "off", timeout=WAIT_MS)
    newest = page.locator("#results table.runs tbody tr").first
    expect(newest).to_contain_text("succeeded")
    expect(newest.locator("a").first).to_have_attribute("href", f"/runs/{run.pk}/")
    assert page.evaluate("window.__noReload") == "still here"

    # The connection page while idle: its header does not poll; Sync now wakes it (static/js/live.js),
    # it follows the run and stops again.
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.evaluate("window.__noReload = 'still here'")
    header = page.locator("#connection-header")
    expect(header).to_have_attribute("data-polling", "off")
    expect(header).to_contain_text("Last sync succeeded")
    page.locator("#entity-vendors").get_by_role("button", name="Sync now").click()
    expect(header).to_have_attribute("data-polling", "on", timeout=WAIT_MS)
    expect(header).to_contain_text("1 run queued or running")
    wait_for(lambda: SyncRun.objects.filter(connection=connection, trigger="dashboard", status="succeeded").exists(),
             what="the dashboard's run")
    expect(header).to_have_attribute("data-polling", "off", timeout=WAIT_MS)
    expect(header).not_to_contain_text("queued or running")
    expect(page.locator("#live")).to_have_attribute("data-polling", "off", timeout=WAIT_MS)
    assert page.evaluate("window.__noReload") == "still here"


def test_it_picks_a_connection_by_name_in_the_runs_filter(page, live_server):
    from playwright.sync_api import expect

    plant, other = connections(2, customers=2)
    runs(plant, 2), runs(other, 1, entity="inventory_items")
    page.goto(f"{live_server.url}/runs/")
    page.evaluate("window.__noReload = 'still here'")
    expect(page.locator("#results table.runs tbody tr")).to_have_count(3)
    page.get_by_label("Connection or customer").press_sequentially("customer 1", delay=20)
    option = page.locator(".pick-options label", has_text="Bulk customer 1 / Bulk connection 001")
    expect(option).to_be_visible(timeout=WAIT_MS)
    option.click()
    expect(page.locator("#results .context")).to_contain_text("Runs of Bulk customer 1 / Bulk connection 001")
    expect(page.locator("#results table.runs tbody tr")).to_have_count(1)
    expect(page.locator("#results table.runs tbody tr")).to_contain_text("inventory items")
    assert f"connection={other.pk}" in page.url
    assert page.evaluate("window.__noReload") == "still here"
