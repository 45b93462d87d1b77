"""maximo normalize(): raw lean JSON members as Maximo sends them (nulls dropped, server offsets,
JSON numbers read as Decimal by the client), against unified records written by hand. Each
expected record also passes the unified schema's validator."""

from decimal import Decimal

import httpx
import pytest

from connections.connectors.base import MappingError
from connections.connectors.maximo import MaximoConnector, maximo_error_message
from connections.connectors.schema import record_validate
from core.errors import CatalogError

CONNECTOR = MaximoConnector(config={"base_url": "https://host/maximo", "timezone": "America/New_York"},
                            credentials={"api_key": "k"})
HREF = "https://host/maximo/api/os/mxapiwodetail/_QkVERk9SRC8xMDAx"


def work_order(**fields):
    row = {"href": HREF, "_rowstamp": "1000027", "wonum": "1001", "siteid": "BEDFORD", "orgid": "EAGLENA",
           "description": "Replace pump seal", "status": "INPRG", "statusdate": "2026-11-21T09:00:00-05:00",
           "wopriority": 2, "worktype": "CM", "assetnum": "11430", "location": "BR300", "lead": "WILSON",
           "supervisor": "SMITH", "reportdate": "2026-11-20T07:15:00-05:00",
           "targstartdate": "2026-11-22T07:15:00-05:00", "targcompdate": "2026-11-24T07:15:00-05:00",
           "actstart": "2026-11-22T08:15:00-05:00", "estdur": Decimal("4.5"), "actlabhrs": Decimal("3.25"),
           "acttotalcost": Decimal("251.5"), "failurecode": "PUMPS", "changedate": "2026-11-22T08:20:00-05:00"}
    row.update(fields)
    return row


def test_it_maps_a_work_order():
    expected = {
        "remote_id": "BEDFORD/1001", "number": "1001", "upstream_status": "INPRG",
        "created_at": "2026-11-20T07:15:00-05:00", "updated_at": "2026-11-22T08:20:00-05:00",
        "title": "Replace pump seal", "description": None, "status": "in_progress", "priority": "high",
        "type": "corrective", "asset": {"remote_id": "BEDFORD/11430", "name": None},
        "location": {"remote_id": "BEDFORD/BR300", "name": None}, "assigned_to": "WILSON",
        "assignees": ["WILSON"], "site": "BEDFORD", "due_date": "2026-11-24",
        "scheduled_start": "2026-11-22T07:15:00-05:00", "scheduled_end": "2026-11-24T07:15:00-05:00",
        "started_at": "2026-11-22T08:15:00-05:00", "completed_at": None, "estimated_hours": "4.5",
        "actual_hours": "3.25", "actual_cost": "251.50", "failure_code": "PUMPS", "parent": None,
        "custom_fields": {"orgid": "EAGLENA", "worktype": "CM", "wopriority": 2, "supervisor": "SMITH"},
    }
    record = CONNECTOR.normalize("work_orders", work_order())
    assert record == expected
    record_validate("work_orders", record)
    assert CONNECTOR.remote_id("work_orders", work_order()) == "BEDFORD/1001"


def test_it_reads_times_without_an_offset_in_the_server_zone_and_dropped_nulls_as_null():
    # _dropnulls: lead, actstart, wopriority, worktype, location are simply absent.
    raw = {"href": HREF, "wonum": "1010", "siteid": "NASHUA", "status": "CAN", "parent": "1001",
           "reportdate": "2026-07-01T09:30:00", "changedate": "2026-07-02T16:05:00"}
    record = CONNECTOR.normalize("work_orders", raw)
    assert record == {
        "remote_id": "NASHUA/1010", "number": "1010", "upstream_status": "CAN",
        "created_at": "2026-07-01T09:30:00-04:00", "updated_at": "2026-07-02T16:05:00-04:00",
        "title": None, "description": None, "status": "cancelled", "priority": "none", "type": "other",
        "asset": None, "location": None, "assigned_to": None, "assignees": [], "site": "NASHUA", "due_date": None,
        "scheduled_start": None, "scheduled_end": None, "started_at": None, "completed_at": None,
        "estimated_hours": None, "actual_hours": None, "actual_cost": None, "failure_code": None,
        "parent": {"remote_id": "NASHUA/1001"}, "custom_fields": {}}
    record_validate("work_orders", record)
    utc = MaximoConnector(config={"base_url": "https://host/maximo"}, credentials={})
    assert utc.normalize("work_orders", raw)["updated_at"] == "2026-07-02T16:05:00+00:00"


@pytest.mark.parametrize(("status", "unified"), [
    ("WAPPR", "open"), ("APPR", "open"), ("WSCH", "open"), ("WMATL", "on_hold"), ("WPCOND", "on_hold"),
    ("INPRG", "in_progress"), ("COMP", "completed"), ("CLOSE", "completed"), ("CAN", "cancelled"),
    ("MYSTAT", "open")])
def test_work_order_statuses(status, unified):
    record = CONNECTOR.normalize("work_orders", work_order(status=status))
    assert (record["status"], record["upstream_status"]) == (unified, status)


@pytest.mark.parametrize(("priority", "unified"), [(1, "urgent"), (2, "high"), (3, "medium"), (4, "low"),
                                                   (5, "low"), (9, "medium"), (None, "none")])
def test_work_order_priorities(priority, unified):
    assert CONNECTOR.normalize("work_orders", work_order(wopriority=priority))["priority"] == unified


def test_it_refuses_a_work_order_without_changedate_or_with_a_float_cost():
    raw = work_order()
    del raw["changedate"]
    with pytest.raises(MappingError, match="changedate"):
        CONNECTOR.normalize("work_orders", raw)
    with pytest.raises(MappingError, match="acttotalcost"):
        CONNECTOR.normalize("work_orders", work_order(acttotalcost=251.5))
    with pytest.raises(MappingError, match="siteid"):
        CONNECTOR.remote_id("work_orders", {"wonum": "1001"})


def test_it_maps_a_purchase_order_with_lines():
    raw = {"href": "https://host/maximo/api/os/mxapipo/_x", "ponum": "4105", "revisionnum": 1, "siteid": "NASHUA",
           "orgid": "EAGLENA", "description": "Bearings", "status": "APPR", "vendor": "GRAINGER",
           "orderdate": "2026-11-11T10:00:00-05:00", "requireddate": "2026-11-25T00:00:00-05:00",
           "currencycode": "USD", "pretaxtotal": Decimal("64.35"), "totaltax1": Decimal("4.02"),
           "totalcost": Decimal("68.37"), "paymentterms": "NET30", "shipto": "SHIPPING", "purchaseagent": "PURCHASER",
           "changedate": "2026-11-11T15:00:00-05:00",
           "poline": [
               {"polinenum": 1, "itemnum": "BEARING-6204", "description": "Ball bearing", "orderqty": 6,
                "orderunit": "EA", "unitcost": Decimal("4.35"), "linecost": Decimal("26.1"), "tax1": Decimal("1.63"),
                "receivedqty": 6, "receiptscomplete": True, "storeloc": "CENTRAL",
                "reqdeliverydate": "2026-11-25T12:00:00-05:00", "gldebitacct": "6100-200-SAF"},
               {"polinenum": 2, "description": "Freight", "orderqty": 1, "orderunit": "EA",
                "unitcost": Decimal("38.25"), "linecost": Decimal("38.25"), "tax1": Decimal("2.39"),
                "receivedqty": 0, "receiptscomplete": False}]}
    expected = {
        "remote_id": "NASHUA/4105", "number": "4105", "upstream_status": "APPR", "created_at": None,
        "updated_at": "2026-11-11T15:00:00-05:00", "status": "partially_received",
        "vendor": {"remote_id": "EAGLENA/GRAINGER", "name": None}, "order_date": "2026-11-11",
        "required_date": "2026-11-25", "currency": "USD", "subtotal": "64.35", "tax": "4.02", "total": "68.37",
        "payment_terms": "NET30", "ship_to": "SHIPPING", "bill_to": None,
        "organization": {"code": "NASHUA", "name": None}, "buyer": "PURCHASER",
        "lines": [
            {"line_number": 1, "item_code": "BEARING-6204",
             "item": {"remote_id": "NASHUA/CENTRAL/BEARING-6204", "code": "BEARING-6204"},
             "description": "Ball bearing", "quantity": "6", "unit_of_measure": "EA", "unit_price": "4.35",
             "amount": "26.10", "tax_amount": "1.63", "quantity_received": "6", "delivery_date": "2026-11-25",
             "status": "received", "account": "6100-200-SAF"},
            {"line_number": 2, "item_code": None, "item": None, "description": "Freight", "quantity": "1",
             "unit_of_measure": "EA", "unit_price": "38.25", "amount": "38.25", "tax_amount": "2.39",
             "quantity_received": "0", "delivery_date": None, "status": "open", "account": None}],
        "custom_fields": {"revisionnum": 1, "orgid": "EAGLENA", "description": "Bearings"},
    }
    record = CONNECTOR.normalize("purchase_orders", raw)
    assert record == expected
    record_validate("purchase_orders", record)


@pytest.mark.parametrize(("status", "unified"), [
    ("WAPPR", "pending_approval"), ("PNDREV", "pending_approval"), ("HOLD", "pending_approval"),
    ("APPR", "approved"), ("INPRG", "open"), ("CLOSE", "closed"), ("CAN", "cancelled"), ("ZZZ", "open")])
def test_purchase_order_statuses_without_receipts(status, unified):
    raw = {"ponum": "1", "siteid": "S", "status": status, "changedate": "2026-11-11T15:00:00-05:00",
           "poline": [{"polinenum": 1, "orderqty": 2, "receivedqty": 0}]}
    assert CONNECTOR.normalize("purchase_orders", raw)["status"] == unified


def test_it_maps_an_inventory_row_without_changedate():
    raw = {"href": "https://host/maximo/api/os/mxapiinventory/_x", "itemnum": "OIL-VG46", "itemsetid": "SET1",
           "location": "CENTRAL", "siteid": "BEDFORD", "orgid": "EAGLENA", "status": "ACTIVE", "issueunit": "GAL",
           "curbaltotal": Decimal("14.5"), "minlevel": 5, "avgcost": Decimal("11.73"), "costtype": "AVERAGE",
           "binnum": "A-01", "statusdate": "2026-11-02T08:00:00-05:00",
           "lastissuedate": "2026-11-20T13:00:00-05:00",
           "invbalances": [{"binnum": "A-01", "curbal": Decimal("12.5")}, {"binnum": "B-07", "curbal": 2}]}
    expected = {
        "remote_id": "BEDFORD/CENTRAL/OIL-VG46", "number": "OIL-VG46", "upstream_status": "ACTIVE",
        "created_at": None, "updated_at": "2026-11-20T13:00:00-05:00", "code": "OIL-VG46", "name": None,
        "description": None, "status": "active", "unit_of_measure": "GAL", "quantity_on_hand": "14.5",
        "minimum_quantity": "5", "unit_cost": "11.73", "currency": None,
        "location": {"remote_id": "BEDFORD/CENTRAL", "name": None}, "site": "BEDFORD",
        "stock": [{"location": {"remote_id": "BEDFORD/CENTRAL", "name": None}, "quantity_on_hand": "12.5",
                   "bin": "A-01"},
                  {"location": {"remote_id": "BEDFORD/CENTRAL", "name": None}, "quantity_on_hand": "2",
                   "bin": "B-07"}],
        "custom_fields": {"itemsetid": "SET1", "orgid": "EAGLENA", "costtype": "AVERAGE", "binnum": "A-01"},
    }
    record = CONNECTOR.normalize("inventory_items", raw)
    assert record == expected
    record_validate("inventory_items", record)
    assert CONNECTOR.normalize("inventory_items", {**raw, "status": "PENDOBS"})["status"] == "inactive"


def test_it_maps_an_asset_a_location_and_a_vendor():
    asset = {"assetnum": "11431", "siteid": "BEDFORD", "orgid": "EAGLENA", "description": "Pump motor 15 HP",
             "status": "NOT READY", "assettype": "MOTOR", "location": "BR300", "parent": "11430",
             "serialnum": "SN-BE-11431", "manufacturer": "Baldor", "vendor": "ACME", "priority": 2,
             "changedate": "2026-11-20T08:30:00-05:00"}
    assert CONNECTOR.normalize("assets", asset) == {
        "remote_id": "BEDFORD/11431", "number": "11431", "upstream_status": "NOT READY", "created_at": None,
        "updated_at": "2026-11-20T08:30:00-05:00", "name": "Pump motor 15 HP", "description": None,
        "status": "standby", "site": "BEDFORD", "category": "MOTOR",
        "location": {"remote_id": "BEDFORD/BR300", "name": None}, "parent": {"remote_id": "BEDFORD/11430"},
        "serial_number": "SN-BE-11431", "manufacturer": "Baldor", "model": None,
        "custom_fields": {"orgid": "EAGLENA", "vendor": "ACME", "priority": 2}}
    record_validate("assets", CONNECTOR.normalize("assets", asset))
    location = {"location": "OLDWING", "siteid": "NASHUA", "orgid": "EAGLENA", "description": "Old wing",
                "type": "OPERATING", "status": "DECOMMISSIONED", "disabled": True,
                "changedate": "2026-11-07T14:00:00-05:00", "lochierarchy": [{"parent": "PLANT", "systemid": "PRIMARY"}]}
    assert CONNECTOR.normalize("locations", location) == {
        "remote_id": "NASHUA/OLDWING", "number": "OLDWING", "upstream_status": "DECOMMISSIONED", "created_at": None,
        "updated_at": "2026-11-07T14:00:00-05:00", "name": "Old wing", "code": "OLDWING", "status": "inactive",
        "parent": {"remote_id": "NASHUA/PLANT"}, "address": None,
        "custom_fields": {"orgid": "EAGLENA", "type": "OPERATING", "siteid": "NASHUA"}}
    record_validate("locations", CONNECTOR.normalize("locations", location))
    vendor = {"company": "TRISTATE", "orgid": "EAGLENA", "name": "Tri-State Bearings", "type": "V",
              "currencycode": "USD", "phone": "617-555-0102", "address1": "102 Main Street", "city": "Nashua",
              "stateprovince": "NH", "zip": "01802", "country": "US", "disabled": True, "paymentterms": "NET30",
              "changedate": "2026-11-05T10:00:00-05:00"}
    assert CONNECTOR.normalize("vendors", vendor) == {
        "remote_id": "EAGLENA/TRISTATE", "number": "TRISTATE", "upstream_status": "disabled", "created_at": None,
        "updated_at": "2026-11-05T10:00:00-05:00", "name": "Tri-State Bearings", "code": "TRISTATE", "email": None,
        "phone": "617-555-0102",
        "address": {"line1": "102 Main Street", "line2": None, "city": "Nashua", "region": "NH",
                    "postal_code": "01802", "country": "US"},
        "currency": "USD", "status": "inactive", "tax_id": None,
        "custom_fields": {"orgid": "EAGLENA", "type": "V", "paymentterms": "NET30"}}
    record_validate("vendors", CONNECTOR.normalize("vendors", vendor))


@pytest.mark.parametrize(("status", "unified"), [
    ("OPERATING", "operational"), ("ACTIVE", "operational"), ("NOT READY", "standby"), ("LIMITEDUSE", "maintenance"),
    ("BROKEN", "down"), ("DECOMMISSIONED", "decommissioned")])
def test_asset_statuses(status, unified):
    raw = {"assetnum": "1", "siteid": "S", "status": status, "changedate": "2026-11-20T08:30:00-05:00"}
    assert CONNECTOR.normalize("assets", raw)["status"] == unified


def test_the_error_body_gives_reason_code_and_message():
    body = {"Error": {"extendedError": {"moreInfo": {"href": "x"}}, "reasonCode": "BMXAA8727E",
                      "message": "BMXAA8727E - The OSLC resource MXAPIFOO is not found.", "statusCode": "404"}}
    assert maximo_error_message(httpx.Response(404, json=body)) == \
        "Maximo BMXAA8727E: The OSLC resource MXAPIFOO is not found."
    assert maximo_error_message(httpx.Response(503, text="<html>Service Unavailable</html>")) is None


def test_config_validation():
    config = MaximoConnector.validate(config={"base_url": "https://host/maximo/", "sites": [" bedford "]},
                                      credentials={"api_key": "k"})
    assert config == {"base_url": "https://host/maximo", "sites": ["BEDFORD"], "timezone": "UTC",
                      "requests_per_minute": 300}
    with pytest.raises(CatalogError) as bad:
        MaximoConnector.validate(config={"base_url": "https://host/maximo", "timezone": "Mars/Olympus",
                                         "sites": ['BED"FORD']}, credentials={"api_key": "k"})
    assert set(bad.value.details["fields"]) == {"config.timezone", "config.sites"}
    with pytest.raises(CatalogError) as wrong_type:
        MaximoConnector.validate(config={"base_url": "https://host/maximo", "sites": "BEDFORD"},
                                 credentials={"api_key": "k"})
    assert wrong_type.value.details["fields"] == {"config.sites": "expected array"}
