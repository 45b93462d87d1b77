"""The maximo connector through the real engine, against the loopback Maximo simulator
(tests/upstreams/maximo.py): real HTTP, real client, real page writer."""

from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from connections.connectors.base import ReadRequest, UpstreamError
from connections.connectors.maximo import MaximoConnector
from syncs.engine import run_execute
from syncs.lifecycle import connection_create
from syncs.models import Record, SyncRun
from syncs.services import sync_trigger
from tests.syncs.factories import TEST_ACTOR, queued_run
from tests.upstreams.maximo import API_KEY, SERVER_ZONE, ZONE, MaximoSimulator

# transaction=True: the request budget counts in the database from the reader thread, which on
# SQLite would wait on the test's own open transaction.
pytestmark = pytest.mark.django_db(transaction=True)

ENTITY_COLLECTIONS = {"work_orders": "workorders", "assets": "assets", "purchase_orders": "pos",
                      "inventory_items": "inventory", "locations": "locations", "vendors": "vendors"}
STRUCTURE = {"work_orders": "mxapiwodetail", "assets": "mxapiasset", "purchase_orders": "mxapipo",
             "inventory_items": "mxapiinventory", "locations": "mxapilocations", "vendors": "mxapivendor"}


@pytest.fixture
def maximo():
    # mxe.oslc.maxpagesize 3: every read spans several pages, and the ten work orders sharing one
    # changedate cross page boundaries.
    with MaximoSimulator(max_page_size=3) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.SYNC_RETRY_BASE_SECONDS = 0.05
    settings.SYNC_RETRY_MAX_SECONDS = 2


def mx_connection(maximo, *, entities=("work_orders",), api_key=API_KEY, verify=True, **config):
    connection, _ = connection_create(
        customer_name="Eagle NA", connector="maximo", name="Maximo",
        config={"base_url": maximo.url, "timezone": SERVER_ZONE, **config}, credentials={"api_key": api_key},
        entities=list(entities), actor=TEST_ACTOR, verify=verify)
    return connection


def sync(connection, entity, mode="incremental") -> SyncRun:
    run = sync_trigger(connection=connection, entities=[entity], mode=mode, trigger="cli")[0].run
    return run_execute(run_id=run.pk)


def records(connection, entity="work_orders") -> dict[str, Record]:
    return {r.remote_id: r for r in Record.objects.filter(connection=connection, entity=entity)}


def expected_ids(maximo, entity, sites=None) -> set[str]:
    keys = {"work_orders": ("siteid", "wonum"), "assets": ("siteid", "assetnum"),
            "purchase_orders": ("siteid", "ponum"),
            "inventory_items": ("siteid", "location", "itemnum"), "locations": ("siteid", "location"),
            "vendors": ("orgid", "company")}[entity]
    return {"/".join(r[k] for k in keys) for r in maximo.data.live(ENTITY_COLLECTIONS[entity])
            if sites is None or r.get("siteid") in sites or entity == "vendors"}


def where(request) -> str:
    return parse_qs(request["raw_query"]).get("oslc.where", [""])[0]


def test_a_full_sync_stores_exactly_every_live_record_of_each_entity(maximo):
    entities = tuple(STRUCTURE)
    conn = mx_connection(maximo, entities=entities)
    for entity in entities:
        run = run_execute(run_id=queued_run(conn, entity).pk)
        assert run.status == "succeeded", (entity, run.error_message)
        expected = expected_ids(maximo, entity)
        assert set(records(conn, entity)) == expected, entity
        assert (run.fetched, run.created, run.failed_records) == (len(expected), len(expected), 0), entity
        assert run.total_records == len(expected), entity
        assert run.pages == -(-len(expected) // 3), entity
    # The same wonum at two sites: two records.
    orders = records(conn)
    assert orders["BEDFORD/1003"].data["title"] == "WO 1003 at Bedford"
    assert orders["NASHUA/1003"].data["title"] == "WO 1003 at Nashua"
    assert orders["BEDFORD/1003"].data["status"] != orders["NASHUA/1003"].data["status"]
    # The current revision of a revised purchase order, under the purchase order's own id.
    pos = records(conn, "purchase_orders")
    assert pos["BEDFORD/4100"].data["custom_fields"]["revisionnum"] == 1
    assert pos["BEDFORD/4100"].data["custom_fields"]["description"] == "PO 4100 (revised)"
    # Every request: lean, selected attributes, signed order terms with a tiebreaker, paged.
    first = next(r for r in maximo.data_requests("mxapipo") if "oslc.orderBy" in r["query"])
    assert first["query"]["lean"] == "1" and "poline{" in first["query"]["oslc.select"]
    assert "%2Bchangedate%2C%2Bsiteid%2C%2Bponum" in first["raw_query"]
    assert where(first) == 'historyflag=false and status!="PNDREV"'
    follow = [r for r in maximo.data_requests("mxapiwodetail") if "pageno" in r["query"]]
    assert [r["query"]["pageno"] for r in follow] == [str(n) for n in range(2, 8)]


def test_rows_sharing_one_changedate_across_page_boundaries_are_all_stored(maximo):
    shared = [r for r in maximo.data.rows("workorders") if r["changedate"] == datetime(2026, 11, 20, 8, 30,
                                                                                        tzinfo=ZONE)]
    assert len(shared) == 10  # more than three pages of three
    conn = mx_connection(maximo)
    run = run_execute(run_id=queued_run(conn, "work_orders").pk)
    assert run.status == "succeeded", run.error_message
    stored = records(conn)
    assert {f"{r['siteid']}/{r['wonum']}" for r in shared} <= set(stored)
    assert len(stored) == 20 and run.fetched == 20, "no row lost, none read twice"


def test_an_incremental_run_updates_exactly_what_changed(maximo):
    conn = mx_connection(maximo, entities=("work_orders", "purchase_orders"))
    for entity in ("work_orders", "purchase_orders"):
        run_execute(run_id=queued_run(conn, entity).pk)
    before = dict(Record.objects.filter(connection=conn).values_list("remote_id", "modified_at"))
    maximo.data.touch("workorders", "NASHUA", "1003", status="COMP", actfinish=maximo.data.clock)
    maximo.data.revise_po("NASHUA", "4103", description="PO 4103 rev 1", status="APPR")

    run = sync(conn, "work_orders")
    assert run.status == "succeeded", run.error_message
    assert (run.created, run.updated) == (0, 1)
    request = maximo.data_requests("mxapiwodetail")[-1]
    assert where(request).startswith('changedate>="2026-11-')
    assert "%2B00%3A00%22" in request["raw_query"], "the + of the offset is URL-encoded"
    data = records(conn)["NASHUA/1003"].data
    assert (data["status"], data["upstream_status"]) == ("completed", "COMP")
    assert records(conn)["BEDFORD/1003"].modified_at == before["BEDFORD/1003"]

    run = sync(conn, "purchase_orders")
    assert run.status == "succeeded", run.error_message
    assert (run.created, run.updated) == (0, 1)
    assert records(conn, "purchase_orders")["NASHUA/4103"].data["custom_fields"]["revisionnum"] == 1
    after = dict(Record.objects.filter(connection=conn).values_list("remote_id", "modified_at"))
    assert sorted(n for n in before if before[n] != after[n]) == ["NASHUA/1003", "NASHUA/4103"]


def test_a_full_resync_marks_exactly_the_deleted_rows(maximo):
    conn = mx_connection(maximo, entities=("work_orders", "assets"))
    for entity in ("work_orders", "assets"):
        run_execute(run_id=queued_run(conn, entity).pk)
    maximo.data.delete("workorders", "NASHUA", "1004")
    maximo.data.delete("assets", "BEDFORD", "13100")

    incremental = sync(conn, "work_orders")
    assert incremental.status == "succeeded" and incremental.deleted == 0
    for entity, gone in (("work_orders", "NASHUA/1004"), ("assets", "BEDFORD/13100")):
        full = sync(conn, entity, "full")
        assert full.status == "succeeded", full.error_message
        assert full.deleted == 1
        deleted = {n for n, r in records(conn, entity).items() if r.deleted_at is not None}
        assert deleted == {gone}
    # CAN and CLOSE are states: those work orders are live records.
    states = {r.data["upstream_status"] for r in records(conn).values() if r.deleted_at is None}
    assert {"CAN", "CLOSE"} <= states


def test_inventory_without_changedate_is_read_whole_and_compared_by_hash(maximo):
    conn = mx_connection(maximo, entities=("inventory_items",))
    run_execute(run_id=queued_run(conn, "inventory_items").pk)
    assert not MaximoConnector(config={"base_url": maximo.url}, credentials={}).filters_changed_since(
        "inventory_items")
    maximo.data.set_balance("NASHUA", "CENTRAL", "OIL-VG46", "A-01", Decimal("3"))
    maximo.data.delete("inventory", "BEDFORD", "CENTRAL", "VBELT-A42")

    run = sync(conn, "inventory_items")
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.created, run.updated, run.deleted) == (7, 0, 1, 1)
    assert "changedate" not in where(maximo.data_requests("mxapiinventory")[-1])
    stored = records(conn, "inventory_items")
    oil = stored["NASHUA/CENTRAL/OIL-VG46"].data
    assert oil["quantity_on_hand"] == "7" and oil["stock"][0] == {
        "location": {"remote_id": "NASHUA/CENTRAL", "name": None}, "quantity_on_hand": "3", "bin": "A-01"}
    assert stored["BEDFORD/CENTRAL/VBELT-A42"].deleted_at is not None


def test_times_without_an_offset_are_read_in_the_configured_zone(maximo):
    conn = mx_connection(maximo, entities=("assets",))
    run_execute(run_id=queued_run(conn, "assets").pk)
    raw = records(conn, "assets")["NASHUA/13100"]
    row = maximo.data.assets[("NASHUA", "13100")]
    assert raw.raw["changedate"] == row["changedate"].replace(tzinfo=None).isoformat(), "sent without offset"
    assert raw.data["updated_at"] == row["changedate"].isoformat()
    assert raw.data["updated_at"].endswith("-05:00")
    assert raw.remote_updated_at == row["changedate"]


def test_the_sites_config_restricts_what_is_read(maximo):
    conn = mx_connection(maximo, entities=("work_orders", "vendors"), sites=["nashua"])
    assert conn.config["sites"] == ["NASHUA"]
    for entity in ("work_orders", "vendors"):
        run = run_execute(run_id=queued_run(conn, entity).pk)
        assert run.status == "succeeded", run.error_message
        assert set(records(conn, entity)) == expected_ids(maximo, entity, sites={"NASHUA"})
    assert all(n.startswith("NASHUA/") for n in records(conn))
    assert where(maximo.data_requests("mxapiwodetail")[-1]) == 'siteid="NASHUA"'
    assert "siteid" not in where(maximo.data_requests("mxapivendor")[-1])
    both = MaximoConnector(config={"base_url": maximo.url, "sites": ["BEDFORD", "NASHUA"]},
                           credentials={"api_key": API_KEY})
    pages = list(both.pages(ReadRequest("assets", since=None, window_start=None)))
    assert where(maximo.data_requests("mxapiasset")[-1]) == 'siteid in ["BEDFORD","NASHUA"]'
    assert sum(len(p.records) for p in pages) == 10


def test_a_wrong_api_key_moves_the_connection_to_auth_failed(maximo):
    with pytest.raises(UpstreamError) as refused:
        mx_connection(maximo, api_key="wrong-key-123")
    assert refused.value.code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert "BMXAA9549E" in refused.value.message and "wrong-key-123" not in str(refused.value.details)
    assert maximo.requests[-1]["status"] == 400

    conn = mx_connection(maximo, api_key="wrong-key-123", verify=False)
    run = run_execute(run_id=queued_run(conn, "work_orders").pk)
    assert run.status == "failed" and run.error_code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert "BMXAA9549E" in run.error_message
    conn.refresh_from_db()
    assert conn.status == "auth_failed"


def test_429s_and_an_html_503_are_retried_and_the_run_succeeds(maximo):
    conn = mx_connection(maximo)
    maximo.inject("rate_limit", count=2, after=1, retry_after=1)
    maximo.inject("html_503", count=1, after=1)
    run = run_execute(run_id=queued_run(conn, "work_orders").pk)
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.created) == (20, 20)
    retries = [(e["code"], e["wait_seconds"]) for e in run.timeline if e["event"] == "retry"]
    assert retries[:2] == [("UPSTREAM_RATE_LIMITED", 1.0), ("UPSTREAM_RATE_LIMITED", 1.0)]
    assert [code for code, _ in retries] == ["UPSTREAM_RATE_LIMITED", "UPSTREAM_RATE_LIMITED",
                                             "UPSTREAM_SERVER_ERROR"]
    assert [r["status"] for r in maximo.requests].count(503) == 1
    assert set(records(conn)) == expected_ids(maximo, "work_orders")


def test_other_errors_show_the_reason_code_and_message(maximo):
    maximo.forbidden.add("mxapivendor")
    connector = MaximoConnector(config={"base_url": maximo.url}, credentials={"api_key": API_KEY})
    with pytest.raises(UpstreamError) as denied:
        connector.probe("vendors")
    assert denied.value.code == "UPSTREAM_PERMISSION_DENIED"
    assert denied.value.message.startswith("Maximo BMXAA9051E: You are not authorized")
    connector.check()  # the key itself is good
    bad = MaximoConnector(config={"base_url": maximo.url + "x"}, credentials={"api_key": API_KEY})
    with pytest.raises(UpstreamError) as missing:
        bad.probe("assets")
    assert missing.value.code == "UPSTREAM_NOT_FOUND" and "BMXAA8727E" in missing.value.message


def test_it_probes_one_row_and_refuses_a_next_link_to_another_host(maximo):
    connector = MaximoConnector(config={"base_url": maximo.url}, credentials={"api_key": API_KEY})
    connector.probe("purchase_orders")
    probe = maximo.requests[-1]
    assert probe["status"] == 200 and probe["query"]["oslc.pageSize"] == "1"
    with pytest.raises(UpstreamError) as exc:
        connector.fetch_page(ReadRequest("work_orders", None, None,
                                         {"next": "https://evil.example.com/maximo/api/os/mxapiwodetail?pageno=2"}))
    assert exc.value.code == "UPSTREAM_INVALID_RESPONSE" and "another host" in exc.value.message
    assert not any("evil" in r["path"] for r in maximo.requests)
