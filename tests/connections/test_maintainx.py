"""The maintainx connector through the real engine, against the loopback MaintainX simulator
(tests/upstreams/maintainx.py): real HTTP, real client and budget, real page writer."""

import base64
import json

import httpx
import pytest

from connections.connectors import maintainx as maintainx_module
from connections.connectors.base import ReadRequest, UpstreamError
from connections.connectors.maintainx import MaintainXConnector
from syncs.engine import run_execute
from syncs.lifecycle import connection_create
from syncs.models import Record, SyncRun
from syncs.services import sync_trigger
from tests.syncs.factories import TEST_ACTOR, queued_run
from tests.upstreams.maintainx import (
    API_KEY,
    MULTI_ORG_KEY,
    ORGANIZATION_ID,
    MaintainXData,
    MaintainXSimulator,
    seed,
)

# transaction=True: the request budget counts in the database from the reader thread, which on
# SQLite would wait on the test's own open transaction.
pytestmark = pytest.mark.django_db(transaction=True)

# unified entity -> the simulator's list
PATHS = {"work_orders": "workorders", "assets": "assets", "inventory_items": "parts", "vendors": "vendors",
         "locations": "locations", "purchase_orders": "purchaseorders"}
ENTITIES = tuple(PATHS)


@pytest.fixture(autouse=True)
def small_pages(monkeypatch, settings):
    # Small pages, so every list spans several; quick retries; the pace of an earlier test forgotten.
    monkeypatch.setattr(MaintainXConnector, "page_limit", 3)
    monkeypatch.setattr(MaintainXConnector, "po_page_limit", 4)
    settings.SYNC_RETRY_BASE_SECONDS = 0.05
    settings.SYNC_RETRY_MAX_SECONDS = 2
    maintainx_module._PACE.clear()
    yield
    maintainx_module._PACE.clear()


@pytest.fixture
def mx():
    with MaintainXSimulator(data=seed(MaintainXData()), rate_limit=10000) as simulator:
        yield simulator


def mx_connection(sim, *, entities=ENTITIES, api_key=API_KEY, organization_id=None, verify=True,
                  requests_per_minute=100000):
    config = {"base_url": sim.url, "requests_per_minute": requests_per_minute}
    if organization_id is not None:
        config["organization_id"] = organization_id
    connection, _ = connection_create(
        customer_name="Havenwerk", connector="maintainx", name="MaintainX", config=config,
        credentials={"api_key": api_key}, entities=list(entities), actor=TEST_ACTOR, verify=verify)
    return connection


def sync(connection, entity, mode="incremental") -> SyncRun:
    run = sync_trigger(connection=connection, entities=[entity], mode=mode, trigger="cli")[0].run
    return run_execute(run_id=run.pk)


def first_syncs(connection, entities=ENTITIES) -> dict[str, SyncRun]:
    runs = {}
    for entity in entities:
        runs[entity] = run_execute(run_id=queued_run(connection, entity).pk)
        assert runs[entity].status == "succeeded", (entity, runs[entity].error_message)
    return runs


def live(connection, entity) -> dict[str, Record]:
    return {r.remote_id: r for r in Record.objects.filter(connection=connection, entity=entity,
                                                          deleted_at__isnull=True)}


def upstream_ids(sim, entity) -> set[str]:
    return {str(r["id"]) for r in sim.data.live(PATHS[entity])}


def test_a_full_sync_stores_exactly_every_live_record_of_every_entity(mx):
    mx.data.delete("assets", 306)  # soft-deleted before the first sync: never stored
    conn = mx_connection(mx)
    runs = first_syncs(conn)
    for entity in ENTITIES:
        assert set(live(conn, entity)) == upstream_ids(mx, entity), entity
        assert runs[entity].fetched == len(upstream_ids(mx, entity)) and runs[entity].pages > 1, entity
        assert runs[entity].failed_records == 0 and runs[entity].created == runs[entity].fetched
    assert "306" not in live(conn, "assets") and len(live(conn, "work_orders")) == 12
    # The work order starting in January is read too (show_upcoming=true), with its asset's name (expand).
    upcoming = live(conn, "work_orders")["512"].data
    assert upcoming["scheduled_start"] == "2027-01-15T07:00:00+00:00"
    assert upcoming["asset"] == {"remote_id": "305", "name": "Roof fan RF-1"}
    # Cents became amounts; every purchase order's detail was read, once.
    assert live(conn, "inventory_items")["403"].data["unit_cost"] == "148.02"
    details = [r for r in mx.requests if r["path"].startswith("/v1/purchaseorders/") and r["status"] == 200]
    po_ids = upstream_ids(mx, "purchase_orders")
    assert len(details) == len(po_ids)
    assert {r["path"].rsplit("/", 1)[1] for r in details} == po_ids
    po = live(conn, "purchase_orders")["605"].data  # PARTIALLY_FULFILLED, 3 items
    assert po["status"] == "partially_received" and po["upstream_status"] == "PARTIALLY_FULFILLED"
    assert po["subtotal"] == str(sum(i["price"] for i in mx.data.get("purchaseorders", 605)["items"]) / 100)
    # Lists were paged by their opaque cursors, each sent back as it came.
    cursors = [r["query"]["cursor"] for r in mx.list_requests("parts") if "cursor" in r["query"]]
    assert cursors and all(json.loads(base64.urlsafe_b64decode(c)) for c in cursors)


def test_an_incremental_sync_updates_exactly_what_changed(mx):
    conn = mx_connection(mx)
    first_syncs(conn)
    before = {e: {n: r.modified_at for n, r in live(conn, e).items()} for e in ENTITIES}
    changed = {"work_orders": "503", "assets": "302", "inventory_items": "404", "vendors": "203",
               "locations": "4", "purchase_orders": "606"}
    mx.data.change("workorders", 503, status="DONE", completedAt="2026-11-30T15:00:00.000Z")
    mx.data.change("assets", 302, status="ONLINE")
    mx.data.change("parts", 404, unitCost=1999, availableQuantity=3)
    mx.data.change("vendors", 203, email="orders@sealmasters.example")  # vendors have no updatedAt
    mx.data.change("locations", 4, name="Storeroom 1 (north)")
    items = mx.data.get("purchaseorders", 606)["items"]
    items[0]["quantityReceived"] = items[0]["quantityOrdered"]
    mx.data.change("purchaseorders", 606, items=items)

    for entity in ENTITIES:
        run = sync(conn, entity)
        assert run.status == "succeeded", (entity, run.error_message)
        assert (run.created, run.updated, run.deleted) == (0, 1, 0), entity
        after = {n: r.modified_at for n, r in live(conn, entity).items()}
        assert [n for n in before[entity] if before[entity][n] != after[n]] == [changed[entity]], entity
        reads = mx.list_requests(PATHS[entity])
        filtered = "updatedAt[gte]" in reads[-1]["query"]
        assert filtered == (entity not in ("vendors", "locations")), entity
        if filtered:  # the changed row, and what the overlap window re-reads at the cursor
            assert 1 <= run.fetched <= 2, entity
    assert live(conn, "work_orders")["503"].data["status"] == "completed"
    assert live(conn, "inventory_items")["404"].data["unit_cost"] == "19.99"
    assert live(conn, "vendors")["203"].data["email"] == "orders@sealmasters.example"
    assert live(conn, "purchase_orders")["606"].data["lines"][0]["status"] == "received"


def test_a_full_resync_marks_exactly_what_was_deleted(mx):
    conn = mx_connection(mx)
    first_syncs(conn)
    gone = {"work_orders": "502", "assets": "307", "inventory_items": "401", "vendors": "204",
            "locations": "5", "purchase_orders": "603"}
    for entity, remote_id in gone.items():
        mx.data.delete(PATHS[entity], int(remote_id))
    # The detail still answers, with deletedAt: a soft delete.
    assert mx.data.get("purchaseorders", 603)["deletedAt"]

    for entity in ("work_orders", "assets", "inventory_items", "purchase_orders"):
        assert sync(conn, entity).deleted == 0, f"{entity}: a changed-since read cannot see a deletion"
    for entity, remote_id in gone.items():
        run = sync(conn, entity, "full")
        assert run.status == "succeeded", (entity, run.error_message)
        assert run.deleted == 1, entity
        deleted = set(Record.objects.filter(connection=conn, entity=entity, deleted_at__isnull=False)
                      .values_list("remote_id", flat=True))
        assert deleted == {remote_id}, entity
        assert set(live(conn, entity)) == upstream_ids(mx, entity), entity


@pytest.mark.parametrize("entity", ["assets", "purchase_orders", "vendors", "locations", "work_orders"])
def test_deletes_between_page_requests_lose_no_live_record(mx, entity):
    path = PATHS[entity]
    for n in range(9 - len(mx.data.live(path))):  # three pages at least
        mx.data.add(path, {"name": f"Extra {n}", "createdAt": "2026-11-20T10:00:00.000Z"})
    rows = [r["id"] for r in mx.data.live(path)]
    # After page 1: one row of page 1 goes; after page 2: two rows of pages 1 and 2 go.
    limit = 4 if entity == "purchase_orders" else 3
    mx.between_pages(path, 1, lambda: mx.data.delete(path, rows[1]))
    mx.between_pages(path, 2, lambda: (mx.data.delete(path, rows[0]), mx.data.delete(path, rows[limit + 1])))
    conn = mx_connection(mx, entities=[entity], verify=False)
    run = run_execute(run_id=queued_run(conn, entity).pk)
    assert run.status == "succeeded", run.error_message
    survivors = {str(i) for i in rows} - {str(rows[1]), str(rows[0]), str(rows[limit + 1])}
    assert survivors == upstream_ids(mx, entity)
    stored = set(live(conn, entity))
    assert survivors <= stored, f"live records lost: {survivors - stored}"
    # What was read before its delete is stored until a full re-sync finds it gone.
    full = sync(conn, entity, "full")
    assert full.status == "succeeded" and set(live(conn, entity)) == survivors


def test_the_simulator_really_shifts_offset_pages_on_a_delete(mx):
    """The case above has teeth: following nextCursor alone skips the row that slid back."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=mx.url, headers=headers) as client:
        first = client.get("/assets", params={"limit": 3, "sort": "id"}).json()
        mx.data.delete("assets", first["assets"][0]["id"])
        second = client.get("/assets", params={"limit": 3, "sort": "id", "cursor": first["nextCursor"]}).json()
    seen = [a["id"] for a in first["assets"] + second["assets"]]
    assert 304 not in seen and seen == [301, 302, 303, 305, 306, 307]


def test_the_rate_limit_is_never_exhausted_with_every_detail_read(mx):
    mx.data = seed(MaintainXData(), work_orders=30, parts=24, purchase_orders=30)
    mx.rate_limit, mx.rate_window = 20, 2.0  # 20 requests per 2 s, for a fast test
    conn = mx_connection(mx, verify=False)
    runs = first_syncs(conn)
    for entity, run in runs.items():
        assert set(live(conn, entity)) == upstream_ids(mx, entity), entity
        assert run.error_details["rate_limited_retries"] == 0, entity
        assert not [e for e in run.timeline if e["event"] == "retry"], entity
    assert 429 not in mx.statuses()
    assert len(mx.requests) > 3 * mx.rate_limit, "enough requests to exhaust the window several times over"
    details = {r["path"].rsplit("/", 1)[1] for r in mx.requests if r["path"].startswith("/v1/purchaseorders/")}
    assert details == upstream_ids(mx, "purchase_orders")


def test_a_429_met_is_retried_and_counted_in_the_run(mx):
    mx.rate_limit, mx.rate_window = 20, 2.0
    conn = mx_connection(mx, entities=["locations"], verify=False)
    with httpx.Client(base_url=mx.url, headers={"Authorization": f"Bearer {API_KEY}"}) as other_tool:
        for _ in range(20):  # another tool on the same key spends the window
            other_tool.get("/locations", params={"limit": 1})
    run = run_execute(run_id=queued_run(conn, "locations").pk)
    assert run.status == "succeeded", run.error_message
    met = mx.statuses().count(429)
    assert met >= 1 and run.error_details["rate_limited_retries"] == met
    assert [e["code"] for e in run.timeline if e["event"] == "retry"] == ["UPSTREAM_RATE_LIMITED"] * met
    assert set(live(conn, "locations")) == upstream_ids(mx, "locations")


def test_a_wrong_key_moves_the_connection_to_auth_failed(mx):
    with pytest.raises(UpstreamError) as refused:
        mx_connection(mx, api_key="mx-wrong-key-000")
    assert refused.value.code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert "invalid or missing API key" in refused.value.message
    assert "mx-wrong-key-000" not in str(refused.value.details)

    conn = mx_connection(mx, api_key="mx-wrong-key-000", verify=False)
    run = run_execute(run_id=queued_run(conn, "work_orders").pk)
    assert run.status == "failed" and run.error_code == "UPSTREAM_AUTHENTICATION_FAILED"
    conn.refresh_from_db()
    assert conn.status == "auth_failed"


def test_a_multi_organization_key_without_organization_id_is_a_clear_error(mx):
    with pytest.raises(UpstreamError) as refused:
        mx_connection(mx, api_key=MULTI_ORG_KEY)
    assert refused.value.code == "UPSTREAM_REQUEST_REJECTED"
    assert "x-organization-id header is required" in refused.value.message
    assert "set the connection's Organization ID" in refused.value.message
    assert refused.value.details["status"] == 400

    conn = mx_connection(mx, api_key=MULTI_ORG_KEY, organization_id=str(ORGANIZATION_ID), entities=["vendors"])
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run.status == "succeeded" and set(live(conn, "vendors")) == upstream_ids(mx, "vendors")
    assert {r["organization"] for r in mx.requests[-3:]} == {str(ORGANIZATION_ID)}


def test_an_organization_id_must_be_a_number():
    with pytest.raises(Exception) as refused:
        MaintainXConnector.validate(config={"organization_id": "acme"}, credentials={"api_key": "k" * 8})
    assert refused.value.details["fields"] == {"config.organization_id": "expected the organization's number, "
                                                                         "e.g. 123456"}
    config = MaintainXConnector.validate(config={}, credentials={"api_key": "k" * 8})
    assert config == {"base_url": "https://api.getmaintainx.com/v1", "requests_per_minute": 90}


def test_probe_reads_one_row_and_the_limit_is_within_what_maintainx_allows(mx):
    connector = MaintainXConnector(config={"base_url": mx.url}, credentials={"api_key": API_KEY})
    connector.probe("purchase_orders")
    assert mx.requests[-2]["query"]["limit"] == "1" and mx.requests[-1]["path"] == "/v1/purchaseorders/601"
    assert MaintainXConnector.page_limit <= 200 and maintainx_module.PAGE_LIMIT == 100
    too_many = httpx.get(f"{mx.url}/parts", params={"limit": 201}, headers={"Authorization": f"Bearer {API_KEY}"})
    assert too_many.status_code == 400 and "limit" in too_many.json()["error"]
    pages = list(connector.pages(ReadRequest("vendors", since=None, window_start=None)))
    assert [len(p.records) for p in pages] == [3, 1] and pages[-1].next_checkpoint is None
