"""The business_central connector through the real engine, against the loopback Business Central
simulator (tests/upstreams/business_central.py): real HTTP, real OAuth2 token endpoint, real client,
real page writer."""

import time
from decimal import Decimal

import pytest
from django.db import connection as db_connection

from connections.connectors.base import ReadRequest, UpstreamError
from connections.connectors.business_central import BusinessCentralConnector
from connections.models import Connection
from connections.services import connector_probe
from syncs.engine import run_execute
from syncs.lifecycle import connection_create
from syncs.models import Record, SyncRun
from syncs.services import sync_trigger
from tests.syncs.factories import TEST_ACTOR, queued_run
from tests.upstreams.business_central import (
    CLIENT_ID,
    CLIENT_SECRET,
    COMPANY_ID,
    OTHER_COMPANY_ID,
    SCOPE,
    TENANT_ID,
    BcData,
    BusinessCentralSimulator,
    seed,
)

# transaction=True: the request budget and the token cache are written from the reader thread,
# which on SQLite would wait on the test's own open transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bc():
    with BusinessCentralSimulator(data=seed(BcData()), page_size=5) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.SYNC_RETRY_BASE_SECONDS = 0.05
    settings.SYNC_RETRY_MAX_SECONDS = 2


def config(bc, **changes) -> dict:
    return {"tenant_id": TENANT_ID, "environment": "production", "company_id": COMPANY_ID,
            "api_base_url": bc.url, "login_base_url": bc.url, **changes}


def bc_connection(bc, *, entities=("purchase_orders",), secret=CLIENT_SECRET, verify=True, **changes) -> Connection:
    connection, _ = connection_create(
        customer_name="Contoso Pumps", connector="business_central", name="Business Central",
        config=config(bc, **changes), credentials={"client_id": CLIENT_ID, "client_secret": secret},
        entities=list(entities), actor=TEST_ACTOR, verify=verify)
    return connection


def sync(connection, entity, mode="incremental") -> SyncRun:
    run = sync_trigger(connection=connection, entities=[entity], mode=mode, trigger="cli")[0].run
    return run_execute(run_id=run.pk)


def records(connection, entity="purchase_orders") -> dict[str, Record]:
    return {r.remote_id: r for r in Record.objects.filter(connection=connection, entity=entity)}


def upstream(bc, entity_set="purchaseOrders", company=COMPANY_ID) -> dict[str, dict]:
    """The simulator's rows by id."""
    return {r["id"]: r for r in bc.data.collection(company, entity_set)}


def reads(bc, entity_set="purchaseOrders") -> list[dict]:
    """The data reads of a sync (the probe asks for $top=1)."""
    return [r for r in bc.data_requests(entity_set) if "$top" not in r["query"]]


def test_it_stores_every_purchase_order_exactly_over_several_pages(bc):
    conn = bc_connection(bc)
    run = run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    assert run.status == "succeeded", run.error_message
    orders = upstream(bc)
    assert (run.fetched, run.created, run.failed_records, run.pages) == (18, 18, 0, 4)
    stored = records(conn)
    assert set(stored) == set(orders)
    for remote_id, order in orders.items():
        data = stored[remote_id].data
        assert data["number"] == order["number"]
        assert data["subtotal"] == str(order["totalAmountExcludingTax"].quantize(Decimal("0.01")))
        assert data["total"] == str(order["totalAmountIncludingTax"].quantize(Decimal("0.01")))
        assert data["vendor"] == {"remote_id": order["vendorId"], "name": order["vendorName"]}
        assert [line["line_number"] for line in data["lines"]] == [
            line["sequence"] for line in order["purchaseOrderLines"]]
        assert data["upstream_status"] == order["status"]
        assert stored[remote_id].remote_updated_at == order["lastModifiedDateTime"]
    # Server paging was followed: the first request, then three @odata.nextLink links.
    pages = reads(bc)
    assert [r["query"].get("$skiptoken") for r in pages] == [None, "'106005'", "'106010'", "'106015'"]
    assert all(r["query"]["$expand"] == "purchaseOrderLines" and "$filter" not in r["query"] for r in pages)
    assert all(r["headers"]["Prefer"] == "odata.maxpagesize=1000" for r in pages)
    # The other company's rows stay out.
    assert all(f"companies({COMPANY_ID})" in r["path"] for r in pages)


def test_it_decodes_xml_encoded_enums_and_reads_empty_guids_and_dates_as_null(bc):
    conn = bc_connection(bc)
    run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    stored = {r.data["number"]: r.data for r in records(conn).values()}
    # Raw rows keep the wire form; the unified records decode it.
    raw = next(r.raw for r in records(conn).values() if r.data["number"] == "106002")
    assert raw["status"] == "In_x0020_Review"
    assert stored["106002"]["upstream_status"] == "In Review" and stored["106002"]["status"] == "pending_approval"
    assert {n: d["status"] for n, d in stored.items() if d["upstream_status"] == "Draft"} == {
        "106005": "draft", "106010": "draft", "106015": "draft"}
    # 106007 has a fixed asset line: lineType Fixed_x0020_Asset, no item.
    fixed_asset = stored["106007"]["lines"][-1]
    assert (fixed_asset["item_code"], fixed_asset["item"], fixed_asset["description"]) == (
        "FA000070", None, "Forklift battery")
    # 106003: requestedReceiptDate 0001-01-01, no purchaser; 106001: in the local currency, whose
    # currency GUID is the zero GUID and whose code currencyCode shows.
    assert raw_of(conn, "106003")["requestedReceiptDate"] == "0001-01-01"
    assert stored["106003"]["required_date"] is None and stored["106003"]["buyer"] is None
    assert stored["106003"]["currency"] == "CAD"
    assert raw_of(conn, "106001")["currencyId"] == "00000000-0000-0000-0000-000000000000"
    assert stored["106001"]["currency"] == "USD"
    # 106010: freight to a G/L account (no item GUID) and a comment line without a date.
    freight, comment = stored["106010"]["lines"][-2:]
    assert (freight["account"], freight["item"], freight["delivery_date"]) == ("61300", None, None)
    assert (comment["item_code"], comment["quantity"], comment["status"]) == (None, "0", "open")

    vendors_conn = bc_connection(bc, entities=("vendors", "inventory_items"))
    for entity in ("vendors", "inventory_items"):
        assert run_execute(run_id=queued_run(vendors_conn, entity).pk).status == "succeeded"
    vendors = {r.data["code"]: r for r in records(vendors_conn, "vendors").values()}
    assert vendors["10000"].raw["blocked"] == "_x0020_"
    assert {code: (r.data["status"], r.data["upstream_status"]) for code, r in vendors.items()} == {
        "10000": ("active", None), "20000": ("active", None), "30000": ("inactive", "Payment"),
        "40000": ("active", None), "50000": ("inactive", "All")}
    items = {r.data["code"]: r for r in records(vendors_conn, "inventory_items").values()}
    assert items["80100"].raw["type"] == "Non_x002D_Inventory"
    assert items["80100"].data["custom_fields"]["type"] == "Non-Inventory"


def raw_of(conn, number: str) -> dict:
    return next(r.raw for r in records(conn).values() if r.data["number"] == number)


def test_it_picks_up_exactly_what_changed_incrementally_a_line_change_through_its_order(bc):
    conn = bc_connection(bc, entities=("purchase_orders", "vendors"))
    for entity in ("purchase_orders", "vendors"):
        assert run_execute(run_id=queued_run(conn, entity).pk).status == "succeeded"
    before = dict(Record.objects.filter(connection=conn).values_list("remote_id", "modified_at"))
    order = bc.data.change_line("106004", 10000, quantity=Decimal("100"), receivedQuantity=Decimal("40"))
    vendor = bc.data.touch("vendors", "20000", displayName="First Up Consultants LLC")
    new = bc.data.add_purchase_order({**{k: v for k, v in order.items() if k not in (
        "id", "purchaseOrderLines", "lastModifiedDateTime")}, "number": "106099", "status": "Draft"}, [])

    run = sync(conn, "purchase_orders")
    assert run.status == "succeeded", run.error_message
    # The last order seeded is read again: it lies within the engine's overlap before the cursor.
    assert (run.fetched, run.created, run.updated, run.unchanged) == (3, 1, 1, 1)
    request = reads(bc)[-1]
    assert request["query"]["$filter"].startswith("lastModifiedDateTime gt 2026-11-2")
    assert "'" not in request["query"]["$filter"]
    vendor_run = sync(conn, "vendors")
    assert (vendor_run.status, vendor_run.fetched, vendor_run.updated) == ("succeeded", 2, 1)
    after = dict(Record.objects.filter(connection=conn).values_list("remote_id", "modified_at"))
    assert sorted(n for n in before if before[n] != after[n]) == sorted([order["id"], vendor["id"]])
    assert set(after) - set(before) == {new["id"]}
    data = records(conn)[order["id"]].data
    assert data["lines"][0]["quantity"] == "100" and data["lines"][0]["quantity_received"] == "40"
    assert data["lines"][0]["status"] == "partially_received" and data["status"] == "partially_received"
    assert data["subtotal"] == str(order["totalAmountExcludingTax"].quantize(Decimal("0.01")))
    assert records(conn, "vendors")[vendor["id"]].data["name"] == "First Up Consultants LLC"
    assert records(conn)[new["id"]].data["status"] == "draft" and records(conn)[new["id"]].data["lines"] == []


def test_it_finds_deleted_and_posted_orders_on_the_full_resync_only(bc):
    conn = bc_connection(bc)
    run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    gone = {bc.data.rows[COMPANY_ID]["purchaseOrders"][n]["id"] for n in ("106006", "106011")}
    bc.data.delete("purchaseOrders", "106006")  # posted in full: Business Central deletes the order
    bc.data.delete("purchaseOrders", "106011")  # deleted by a user

    incremental = sync(conn, "purchase_orders")
    assert incremental.status == "succeeded" and incremental.deleted == 0
    full = sync(conn, "purchase_orders", "full")
    assert full.status == "succeeded", full.error_message
    assert (full.fetched, full.deleted, full.created, full.updated) == (16, 2, 0, 0)
    deleted = {r.remote_id for r in records(conn).values() if r.deleted_at is not None}
    assert deleted == gone


def test_it_refreshes_a_token_expiring_mid_run_and_shares_it_stored_encrypted(bc):
    conn = bc_connection(bc, entities=("purchase_orders", "vendors"))
    bc.token_requests = 2  # each token serves two API requests, then Business Central refuses it
    before = len(bc.token_requests_made())  # the check when the connection was created had its own
    run = run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.created) == (18, 18)
    refused = [r for r in bc.requests if r["status"] == 401]
    assert len(refused) >= 2, "tokens expired mid-run"
    tokens = bc.token_requests_made()
    assert len(tokens) - before == 1 + len(refused), "one at the start, one after each expiry"
    assert all(t["form"] == {"grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": SCOPE}
               for t in tokens)
    assert all(t["path"] == f"/{TENANT_ID}/oauth2/v2.0/token" for t in tokens)
    assert not [e for e in run.timeline if e["event"] == "retry"], "renewed by the client, not retried"

    # The token is cached on the connection, encrypted; the next run's client starts with it.
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT upstream_token FROM connections_connection WHERE id = %s",
                       [Connection._meta.pk.get_db_prep_value(conn.pk, db_connection)])
        raw = cursor.fetchone()[0]
    stored = Connection.objects.get(pk=conn.pk).upstream_token
    assert stored["access_token"] in bc.tokens and stored["access_token"] not in raw and raw.startswith("gAAAA")
    bc.token_requests = None
    fetched = len(bc.token_requests_made())
    vendors = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert vendors.status == "succeeded" and vendors.fetched == 5
    assert len(bc.token_requests_made()) == fetched, "the stored token was used, not a new one fetched"


def test_it_fetches_a_new_token_before_the_old_one_expires(bc):
    # A token valid for 61 s is due for renewal (a minute before it expires) within a second.
    bc.token_lifetime = 61
    connector = BusinessCentralConnector(config=config(bc), credentials={"client_id": CLIENT_ID,
                                                                          "client_secret": CLIENT_SECRET})
    connector.probe("vendors")
    time.sleep(1.1)
    connector.probe("vendors")
    assert len(bc.token_requests_made()) == 2 and not [r for r in bc.requests if r["status"] == 401]


def test_it_retries_a_429_and_a_504_and_succeeds(bc):
    conn = bc_connection(bc)
    bc.inject("rate_limit", count=1, after=1, retry_after=1)
    bc.inject("gateway_timeout", count=1, after=1)
    run = run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.created) == (18, 18)
    retries = [(e["code"], e["wait_seconds"]) for e in run.timeline if e["event"] == "retry"]
    assert [code for code, _ in retries] == ["UPSTREAM_RATE_LIMITED", "UPSTREAM_SERVER_ERROR"]
    assert retries[0][1] == 1.0, "Retry-After honoured"
    assert sorted(r["status"] for r in bc.requests if r["status"] >= 400) == [429, 504]
    assert len(records(conn)) == 18


def test_it_moves_the_connection_to_auth_failed_on_invalid_client(bc):
    with pytest.raises(UpstreamError) as refused:
        bc_connection(bc, secret="wrong-secret-value")
    assert refused.value.code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert "invalid_client" in refused.value.message and "AADSTS7000215" in refused.value.message
    assert "wrong-secret-value" not in str(refused.value.details) + refused.value.message

    conn = bc_connection(bc, secret="wrong-secret-value", verify=False)
    run = run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    assert run.status == "failed" and run.error_code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert "invalid_client" in run.error_message
    conn.refresh_from_db()
    assert conn.status == "auth_failed"


def test_it_syncs_vendors_items_and_locations(bc):
    conn = bc_connection(bc, entities=("vendors", "inventory_items", "locations"))
    for entity, entity_set, count in (("vendors", "vendors", 5), ("inventory_items", "items", 6),
                                      ("locations", "locations", 4)):
        run = run_execute(run_id=queued_run(conn, entity).pk)
        assert run.status == "succeeded", run.error_message
        assert run.fetched == count
        assert set(records(conn, entity)) == set(upstream(bc, entity_set))
    locations = {r.data["code"]: r.data for r in records(conn, "locations").values()}
    assert locations["OUT. LOG."]["name"] == "Outsourced Logistics"
    items = {r.data["code"]: r.data for r in records(conn, "inventory_items").values()}
    assert (items["70040"]["quantity_on_hand"], items["70040"]["unit_cost"]) == ("1200.5", "4.35")
    assert items["1900-S"]["status"] == "inactive"


def test_test_connection_lists_the_companies_when_none_is_chosen(bc):
    connector = BusinessCentralConnector(config=config(bc, company_id=""),
                                         credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    result = connector_probe(connector=connector, entities=["vendors", "purchase_orders"])
    assert result["ok"] is True
    assert result["details"] == {"choices": {"company_id": [
        {"value": COMPANY_ID, "label": "CRONUS USA, Inc."}, {"value": OTHER_COMPANY_ID, "label": "My Company"}]}}
    assert {e: (o["outcome"], o["code"]) for e, o in result["entities"].items()} == {
        "vendors": ("failed", "UPSTREAM_REQUEST_REJECTED"), "purchase_orders": ("failed", "UPSTREAM_REQUEST_REJECTED")}
    assert "No company is chosen" in result["entities"]["vendors"]["message"]

    chosen = BusinessCentralConnector(config=config(bc), credentials={"client_id": CLIENT_ID,
                                                                      "client_secret": CLIENT_SECRET})
    result = connector_probe(connector=chosen, entities=["vendors"])
    assert result == {"ok": True, "entities": {"vendors": {"ok": True, "outcome": "ok"}}}
    assert bc.data_requests("vendors")[-1]["query"]["$top"] == "1"


def test_it_refuses_a_company_the_environment_does_not_have(bc):
    connector = BusinessCentralConnector(config=config(bc, company_id="c1a2b3c4-0009-4000-8000-00000000c0de"),
                                         credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    with pytest.raises(UpstreamError) as exc:
        connector.check()
    assert exc.value.code == "UPSTREAM_NOT_FOUND" and "CRONUS USA, Inc." in exc.value.message


def test_it_refuses_a_next_link_to_another_host(bc):
    connector = BusinessCentralConnector(config=config(bc), credentials={"client_id": CLIENT_ID,
                                                                         "client_secret": CLIENT_SECRET})
    with pytest.raises(UpstreamError) as exc:
        connector.fetch_page(ReadRequest("vendors", None, None,
                                         {"next": "https://evil.example.com/v2.0/x/production/api/v2.0/companies"}))
    assert exc.value.code == "UPSTREAM_INVALID_RESPONSE" and "another host" in exc.value.message
    assert not bc.requests, "not even a token was fetched"


def test_the_simulator_refuses_a_quoted_datetime_literal_as_business_central_does(bc):
    connector = BusinessCentralConnector(config=config(bc), credentials={"client_id": CLIENT_ID,
                                                                         "client_secret": CLIENT_SECRET})
    with pytest.raises(UpstreamError) as exc:
        connector.client.json("GET", f"{connector.api_root}/companies({COMPANY_ID})/vendors",
                              params={"$filter": "lastModifiedDateTime gt '2026-11-20T00:00:00Z'"})
    assert exc.value.code == "UPSTREAM_REQUEST_REJECTED" and "incompatible types" in exc.value.message
    body = connector.client.json("GET", f"{connector.api_root}/companies({COMPANY_ID})/vendors",
                                 params={"$filter": "lastModifiedDateTime gt 2026-11-20T08:10:01Z"})
    assert [v["number"] for v in body["value"]] == ["30000", "40000", "50000"]
