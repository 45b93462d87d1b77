"""The sap_s4hana connector through the real engine, against the loopback SAP simulator
(tests/upstreams/sap.py): real HTTP, real client, real page writer."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from connections.connectors.base import ReadRequest, UpstreamError
from connections.connectors.sap_s4hana import SapS4HanaConnector
from syncs.engine import run_execute
from syncs.lifecycle import connection_create
from syncs.models import Record, SyncRun
from syncs.services import sync_trigger
from tests.syncs.factories import TEST_ACTOR, queued_run
from tests.upstreams.sap import PASSWORD, SAP_CLIENT, USERNAME, SapData, SapSimulator, seed

# transaction=True: the request budget counts in the database from the reader thread, which on
# SQLite would wait on the test's own open transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sap():
    with SapSimulator(data=seed(SapData()), page_size=5) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.SYNC_RETRY_BASE_SECONDS = 0.05
    settings.SYNC_RETRY_MAX_SECONDS = 2


def sap_connection(sap, *, entities=("purchase_orders",), password=PASSWORD, verify=True):
    connection, _ = connection_create(
        customer_name="Nordwerk", connector="sap_s4hana", name="S/4HANA",
        config={"base_url": sap.url, "sap_client": SAP_CLIENT},
        credentials={"username": USERNAME, "password": password}, entities=list(entities), actor=TEST_ACTOR,
        verify=verify)
    return connection


def sync(connection, entity, mode="incremental") -> SyncRun:
    run = sync_trigger(connection=connection, entities=[entity], mode=mode, trigger="cli")[0].run
    return run_execute(run_id=run.pk)


def records(connection, entity="purchase_orders") -> dict[str, Record]:
    return {r.remote_id: r for r in Record.objects.filter(connection=connection, entity=entity)}


def expected_subtotal(po: dict) -> str:
    """Worked out here from the simulator's own values: qty x price / per, rounded per line to
    cents, deleted items left out."""
    total = Decimal(0)
    for item in po["to_PurchaseOrderItem"]:
        if item["PurchasingDocumentDeletionCode"] != "L":
            amount = item["OrderQuantity"] * item["NetPriceAmount"] / item["NetPriceQuantity"]
            total += amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return str(total.quantize(Decimal("0.01")))


def test_it_stores_every_purchase_order_exactly_over_several_pages(sap):
    conn = sap_connection(sap)
    run = run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    assert run.status == "succeeded", run.error_message
    pos = {po["PurchaseOrder"]: po for po in sap.data.rows("purchase_orders")}
    assert (run.fetched, run.created, run.pages) == (24, 24, 5)
    stored = records(conn)
    assert set(stored) == set(pos)
    for number, po in pos.items():
        data = stored[number].data
        assert data["subtotal"] == expected_subtotal(po), number
        assert data["number"] == number and data["vendor"]["remote_id"] == po["Supplier"]
        assert [line["line_number"] for line in data["lines"]] == [
            int(i["PurchaseOrderItem"]) for i in po["to_PurchaseOrderItem"]]
        assert data["upstream_status"] == po["PurchasingProcessingStatus"]
    # SAP's server paging was followed: the first request, then four $skiptoken links.
    reads = [r for r in sap.data_requests("A_PurchaseOrder") if "$top" not in r["query"]]  # not the probe
    assert [r["query"].get("$skiptoken") for r in reads] == [None, "5", "10", "15", "20"]
    assert all(r["query"]["sap-client"] == SAP_CLIENT and r["query"]["$expand"] == "to_PurchaseOrderItem"
               for r in reads)


def test_it_stores_deletion_code_l_documents_as_deleted_and_cancelled(sap):
    conn = sap_connection(sap)
    run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    flagged = {po["PurchaseOrder"]: po for po in sap.data.rows("purchase_orders")
               if po["PurchasingDocumentDeletionCode"] == "L"}
    assert set(flagged) == {"4500000008", "4500000018"}
    stored = records(conn)
    for number, po in flagged.items():
        data = stored[number].data
        assert stored[number].deleted_at is not None
        assert data["status"] == "cancelled"
        assert data["deleted_at"] == po["LastChangeDateTime"].isoformat()
    live = [r.data for n, r in stored.items() if n not in flagged]
    assert all("deleted_at" not in d and d["status"] != "cancelled" or d["upstream_status"] == "08" for d in live)
    # An item with deletion code L is a cancelled line, left out of the subtotal.
    po13 = stored["4500000013"].data
    assert [line["status"] for line in po13["lines"]] == ["received", "cancelled"]
    assert po13["subtotal"] == expected_subtotal(next(p for p in sap.data.rows("purchase_orders")
                                                      if p["PurchaseOrder"] == "4500000013"))
    # The page reports them as tombstones too, so PlantSync's own deleted_at is set on the record.
    assert {n for n, r in stored.items() if r.deleted_at is not None} == set(flagged)


def test_it_finds_a_hard_delete_on_the_full_resync_only(sap):
    conn = sap_connection(sap)
    run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    sap.data.delete_purchase_order("4500000011")

    incremental = sync(conn, "purchase_orders")
    assert incremental.status == "succeeded" and incremental.deleted == 0
    full = sync(conn, "purchase_orders", "full")
    assert full.status == "succeeded", full.error_message
    deleted = set(Record.objects.filter(connection=conn, entity="purchase_orders", deleted_at__isnull=False)
                  .values_list("remote_id", flat=True))
    assert deleted == {"4500000011", "4500000008", "4500000018"}, "the hard delete, and the two L documents"
    assert records(conn)["4500000011"].data["status"] != "cancelled", "kept as it was last seen"


def test_it_picks_up_exactly_the_changed_purchase_order_incrementally(sap):
    conn = sap_connection(sap)
    run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    before = dict(Record.objects.filter(connection=conn).values_list("remote_id", "modified_at"))
    sap.data.touch("4500000005", items={"10": {"OrderQuantity": Decimal("100")}}, PaymentTerms="0001")

    run = sync(conn, "purchase_orders")
    assert run.status == "succeeded", run.error_message
    assert (run.created, run.updated) == (0, 1)
    request = sap.data_requests("A_PurchaseOrder")[-1]
    assert request["query"]["$filter"].startswith("LastChangeDateTime ge datetimeoffset'2026-11-")
    after = dict(Record.objects.filter(connection=conn).values_list("remote_id", "modified_at"))
    assert [n for n in before if before[n] != after[n]] == ["4500000005"]
    data = records(conn)["4500000005"].data
    po = next(p for p in sap.data.rows("purchase_orders") if p["PurchaseOrder"] == "4500000005")
    assert data["payment_terms"] == "0001" and data["subtotal"] == expected_subtotal(po)
    assert data["lines"][0]["quantity"] == "100"


def test_it_reads_rows_never_changed_only_on_full_syncs(sap):
    never_changed = {po["PurchaseOrder"]: po for po in sap.data.rows("purchase_orders")
                     if po["LastChangeDateTime"] is None}
    assert set(never_changed) == {"4500000003", "4500000010", "4500000017", "4500000024"}
    conn = sap_connection(sap)
    run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    stored = records(conn)
    for number, po in never_changed.items():
        created = datetime(*po["CreationDate"].timetuple()[:3], tzinfo=UTC)
        assert stored[number].data["updated_at"] == created.isoformat()
        assert stored[number].remote_updated_at == created

    # A change SAP makes without a LastChangeDateTime is invisible to the changed-since filter...
    with sap.data.lock:
        sap.data.purchase_orders["4500000010"]["PurchaseOrderType"] = "FO"
    incremental = sync(conn, "purchase_orders")
    assert incremental.status == "succeeded" and incremental.updated == 0
    assert records(conn)["4500000010"].data["custom_fields"]["PurchaseOrderType"] == "NB"
    # ...and a full re-sync reads it.
    before = records(conn)["4500000010"].modified_at
    full = sync(conn, "purchase_orders", "full")
    assert full.status == "succeeded" and full.updated >= 1
    assert records(conn)["4500000010"].data["custom_fields"]["PurchaseOrderType"] == "FO"
    assert records(conn)["4500000010"].modified_at > before


def test_it_retries_429_bursts_and_an_html_503_and_succeeds(sap):
    conn = sap_connection(sap)
    sap.inject("rate_limit", count=2, after=1, retry_after=1)
    sap.inject("html_503", count=1, after=1)
    run = run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.created) == (24, 24)
    retries = [(e["code"], e["wait_seconds"]) for e in run.timeline if e["event"] == "retry"]
    assert [code for code, _ in retries] == ["UPSTREAM_RATE_LIMITED", "UPSTREAM_RATE_LIMITED",
                                             "UPSTREAM_SERVER_ERROR"]
    assert retries[0][1] == 1.0 and retries[1][1] == 1.0
    assert [r["status"] for r in sap.requests if "A_PurchaseOrder" in r["path"]].count(429) == 2
    assert len(records(conn)) == 24


def test_it_moves_the_connection_to_auth_failed_on_a_wrong_password(sap):
    with pytest.raises(UpstreamError) as refused:
        sap_connection(sap, password="wrong-password")
    assert refused.value.code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert "Logon failed" in refused.value.message and "wrong-password" not in str(refused.value.details)

    conn = sap_connection(sap, password="wrong-password", verify=False)
    run = run_execute(run_id=queued_run(conn, "purchase_orders").pk)
    assert run.status == "failed" and run.error_code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert "Logon failed" in run.error_message
    conn.refresh_from_db()
    assert conn.status == "auth_failed"


def test_it_syncs_suppliers_equipment_and_maintenance_orders(sap):
    conn = sap_connection(sap, entities=("vendors", "assets", "work_orders"))
    for entity, count in (("vendors", 4), ("assets", 3), ("work_orders", 3)):
        run = run_execute(run_id=queued_run(conn, entity).pk)
        assert run.status == "succeeded", run.error_message
        assert run.fetched == count
    vendors = records(conn, "vendors")
    assert vendors["17300003"].data["status"] == "inactive" and vendors["17300001"].data["status"] == "active"
    assets = records(conn, "assets")
    assert assets["10000102"].data["status"] == "decommissioned"
    assert assets["10000102"].data["parent"] == {"remote_id": "10000100"}
    orders = records(conn, "work_orders")
    assert {n: r.data["status"] for n, r in orders.items()} == {
        "4000000": "open", "4000001": "open", "4000002": "completed"}
    assert orders["4000000"].data["asset"] == {"remote_id": "10000100", "name": "Centrifugal pump P-101"}
    # A_Supplier has no change time: vendors are read whole, compared by hash.
    assert not SapS4HanaConnector(config={"base_url": sap.url}, credentials={}).filters_changed_since("vendors")
    assert "$filter" not in sap.data_requests("A_Supplier")[-1]["query"]


def test_it_probes_one_record_and_reports_tombstones_and_totals(sap):
    connector = SapS4HanaConnector(config={"base_url": sap.url, "sap_client": SAP_CLIENT},
                                   credentials={"username": USERNAME, "password": PASSWORD})
    connector.probe("work_orders")
    assert sap.requests[-1]["query"]["$top"] == "1"
    pages = list(connector.pages(ReadRequest("purchase_orders", since=None, window_start=None)))
    assert [p.total for p in pages] == [24] * 5
    assert sorted(i for p in pages for i in p.deleted_remote_ids) == ["4500000008", "4500000018"]
    assert pages[-1].next_checkpoint is None and pages[0].next_checkpoint["next"].startswith(sap.url)


def test_it_refuses_a_next_link_to_another_host(sap):
    connector = SapS4HanaConnector(config={"base_url": sap.url}, credentials={"username": USERNAME,
                                                                              "password": PASSWORD})
    with pytest.raises(UpstreamError) as exc:
        connector.fetch_page(ReadRequest("purchase_orders", None, None,
                                         {"next": "https://evil.example.com/sap/opu/odata/sap/X/A_PurchaseOrder"}))
    assert exc.value.code == "UPSTREAM_INVALID_RESPONSE" and "another host" in exc.value.message
    assert not any("evil" in r["path"] for r in sap.requests)
