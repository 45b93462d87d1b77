"""maintainx normalize(): raw rows as MaintainX's API sends them (ids as integers, times as UTC
with milliseconds, money in integer cents), against unified records written by hand. Each
expected record also passes the unified schema's validator."""

from decimal import Decimal

import httpx
import pytest

from connections.connectors.base import MappingError
from connections.connectors.maintainx import MaintainXConnector, maintainx_error_message
from connections.connectors.schema import record_validate

CONNECTOR = MaintainXConnector(config={}, credentials={"api_key": "mx-key"})


def check(entity: str, raw: dict, expected: dict) -> None:
    assert CONNECTOR.remote_id(entity, raw) == expected["remote_id"]
    record = CONNECTOR.normalize(entity, raw)
    assert record == expected
    record_validate(entity, record)


def test_it_maps_a_work_order_read_with_expand_asset_and_location():
    raw = {"id": 88123, "sequentialId": 1042, "title": "Replace seal on P-101 ", "description": "Leak at the shaft.",
           "status": "ON_HOLD", "priority": "HIGH", "assetId": 301, "asset": {"id": 301, "name": "Pump P-101"},
           "locationId": 2, "location": {"id": 2, "name": "Hall A"},
           "assignees": [{"type": "TEAM", "id": 9, "name": "Mechanics"},
                         {"type": "USER", "id": 71, "firstName": "Anna", "lastName": "de Vries"}],
           "categories": ["Damage", "Safety"], "startDate": "2026-11-24T07:00:00.000Z",
           "dueDate": "2026-11-26T23:30:00.000Z", "estimatedTime": 5400, "completedAt": None, "parentId": 88000,
           "extraFields": {"Permit": "HW-12"},
           "createdAt": "2026-11-20T08:15:00.250Z", "updatedAt": "2026-11-24T09:00:00.000Z"}
    check("work_orders", raw, {
        "remote_id": "88123", "number": "1042", "upstream_status": "ON_HOLD",
        "created_at": "2026-11-20T08:15:00.250000+00:00", "updated_at": "2026-11-24T09:00:00+00:00",
        "title": "Replace seal on P-101", "description": "Leak at the shaft.", "status": "on_hold",
        "priority": "high", "type": "corrective",
        "asset": {"remote_id": "301", "name": "Pump P-101"}, "location": {"remote_id": "2", "name": "Hall A"},
        "assigned_to": "Anna de Vries", "assignees": ["Mechanics", "Anna de Vries"], "site": None,
        "due_date": "2026-11-26", "scheduled_start": "2026-11-24T07:00:00+00:00", "scheduled_end": None,
        "started_at": None, "completed_at": None, "estimated_hours": "1.5", "actual_hours": None,
        "actual_cost": None, "failure_code": None, "parent": {"remote_id": "88000"},
        "custom_fields": {"categories": ["Damage", "Safety"], "extraFields": {"Permit": "HW-12"}}})


def test_it_maps_a_bare_work_order_list_row():
    raw = {"id": 7, "title": "Walkround", "status": "SKIPPED", "priority": "NONE", "assignees": [],
           "categories": [], "createdAt": "2026-11-01T06:00:00.000Z", "updatedAt": "2026-11-01T06:00:00.000Z"}
    check("work_orders", raw, {
        "remote_id": "7", "number": "7", "upstream_status": "SKIPPED",
        "created_at": "2026-11-01T06:00:00+00:00", "updated_at": "2026-11-01T06:00:00+00:00",
        "title": "Walkround", "description": None, "status": "cancelled", "priority": "none", "type": "other",
        "asset": None, "location": None, "assigned_to": None, "assignees": [], "site": None, "due_date": None,
        "scheduled_start": None, "scheduled_end": None, "started_at": None, "completed_at": None,
        "estimated_hours": None, "actual_hours": None, "actual_cost": None, "failure_code": None,
        "parent": None, "custom_fields": {}})


@pytest.mark.parametrize(("status", "unified"), [("OPEN", "open"), ("IN_PROGRESS", "in_progress"),
                                                 ("ON_HOLD", "on_hold"), ("DONE", "completed"),
                                                 ("CANCELED", "cancelled"), ("SKIPPED", "cancelled"),
                                                 ("SOMETHING_NEW", "open")])
def test_it_maps_work_order_statuses_keeping_the_upstream_one(status, unified):
    record = CONNECTOR.normalize("work_orders", {"id": 1, "status": status, "updatedAt": "2026-11-01T06:00:00Z"})
    assert (record["status"], record["upstream_status"]) == (unified, status)


@pytest.mark.parametrize(("priority", "unified"), [("NONE", "none"), ("LOW", "low"), ("MEDIUM", "medium"),
                                                   ("HIGH", "high"), (None, None)])
def test_it_maps_priorities(priority, unified):
    record = CONNECTOR.normalize("work_orders", {"id": 1, "priority": priority, "updatedAt": "2026-11-01T06:00Z"})
    assert record["priority"] == unified


def test_it_maps_an_asset():
    raw = {"id": 303, "name": "Motor M-101", "description": "Drive motor", "status": "OFFLINE",
           "manufacturer": {"id": 12, "name": "ABB"}, "model": "M3BP 160", "serialNumber": "ABB-99812",
           "barcode": "AS-303", "parentId": 301, "locationId": 2, "assetTypes": ["Motor", "Electrical"],
           "createdAt": "2026-11-04T09:00:00.000Z", "updatedAt": "2026-11-07T10:00:00.000Z"}
    check("assets", raw, {
        "remote_id": "303", "number": "AS-303", "upstream_status": "OFFLINE",
        "created_at": "2026-11-04T09:00:00+00:00", "updated_at": "2026-11-07T10:00:00+00:00",
        "name": "Motor M-101", "description": "Drive motor", "status": "down", "site": None, "category": "Motor",
        "location": {"remote_id": "2", "name": None}, "parent": {"remote_id": "301"},
        "serial_number": "ABB-99812", "manufacturer": "ABB", "model": "M3BP 160",
        "custom_fields": {"assetTypes": ["Motor", "Electrical"]}})


def test_it_maps_a_part_with_its_unit_cost_in_cents():
    raw = {"id": 403, "name": "Mechanical seal 35 mm", "description": None, "unitCost": 14802,
           "availableQuantity": 16, "minimumQuantity": 7, "barcode": "PN-1002", "area": "Shelf 3", "locationId": 4,
           "createdAt": "2026-11-05T10:00:00.000Z", "updatedAt": "2026-11-08T10:00:00.000Z"}
    check("inventory_items", raw, {
        "remote_id": "403", "number": "PN-1002", "upstream_status": None,
        "created_at": "2026-11-05T10:00:00+00:00", "updated_at": "2026-11-08T10:00:00+00:00",
        "code": "PN-1002", "name": "Mechanical seal 35 mm", "description": None, "status": "active",
        "unit_of_measure": None, "quantity_on_hand": "16", "minimum_quantity": "7", "unit_cost": "148.02",
        "currency": None, "location": {"remote_id": "4", "name": None}, "site": None,
        "stock": [{"location": {"remote_id": "4", "name": None}, "quantity_on_hand": "16", "bin": "Shelf 3"}],
        "custom_fields": {"area": "Shelf 3"}})


@pytest.mark.parametrize(("cents", "amount"), [(0, "0.00"), (5, "0.05"), (100, "1.00"), (123456, "1234.56"),
                                               (Decimal("1050.5"), "10.505"), ("799", "7.99")])
def test_it_turns_cents_into_decimal_strings(cents, amount):
    record = CONNECTOR.normalize("inventory_items", {"id": 1, "unitCost": cents, "updatedAt": "2026-11-01T06:00Z"})
    assert record["unit_cost"] == amount


def test_it_refuses_a_float_unit_cost():
    with pytest.raises(MappingError, match="unitCost"):
        CONNECTOR.normalize("inventory_items", {"id": 1, "unitCost": 4.35, "updatedAt": "2026-11-01T06:00Z"})


def test_it_maps_a_vendor_without_updated_at():
    raw = {"id": 203, "name": "Seal Masters Ltd", "description": "Seals and gaskets", "email": None,
           "phoneNumber": "+44 20 5550 0303", "createdAt": "2026-11-04T11:00:00.000Z"}
    check("vendors", raw, {
        "remote_id": "203", "number": None, "upstream_status": None,
        "created_at": "2026-11-04T11:00:00+00:00", "updated_at": "2026-11-04T11:00:00+00:00",
        "name": "Seal Masters Ltd", "code": None, "email": None, "phone": "+44 20 5550 0303", "address": None,
        "currency": None, "status": "active", "tax_id": None,
        "custom_fields": {"description": "Seals and gaskets"}})


def test_it_maps_a_location_with_its_parent_and_address():
    raw = {"id": 1, "name": "Plant Rotterdam", "description": None, "address": "Waalhaven 12, 3089 Rotterdam",
           "parentId": None, "barcode": "LOC-001", "createdAt": "2026-11-02T08:00:00.000Z",
           "updatedAt": "2026-11-03T08:00:00.000Z"}
    check("locations", raw, {
        "remote_id": "1", "number": "LOC-001", "upstream_status": None,
        "created_at": "2026-11-02T08:00:00+00:00", "updated_at": "2026-11-03T08:00:00+00:00",
        "name": "Plant Rotterdam", "code": "LOC-001", "status": "active", "parent": None,
        "address": {"line1": "Waalhaven 12, 3089 Rotterdam", "line2": None, "city": None, "region": None,
                    "postal_code": None, "country": None},
        "custom_fields": {}})
    child = CONNECTOR.normalize("locations", {**raw, "id": 4, "parentId": 2, "address": None})
    assert child["parent"] == {"remote_id": "2"} and child["address"] is None


def purchase_order(**fields):
    row = {"id": 605, "autoGeneratedNumber": "PO-0005", "overrideNumber": None, "title": "Restock 5",
           "status": "PARTIALLY_FULFILLED", "vendorId": 201, "dueDate": "2026-11-20T08:00:00.000Z",
           "note": None, "deletedAt": None,
           "items": [
               {"id": 9040, "partId": 405, "name": "Grease cartridge 400 g", "unitCost": 745, "price": 8940,
                "quantityOrdered": 12, "quantityReceived": 6},
               {"id": 9041, "partId": 406, "name": "Gasket kit DN50", "unitCost": 3999, "price": 11997,
                "quantityOrdered": 3, "quantityReceived": 3},
               {"id": 9042, "partId": None, "name": "Freight", "unitCost": 2500, "price": None,
                "quantityOrdered": 1, "quantityReceived": 0}],
           "createdAt": "2026-11-06T08:00:00.000Z", "updatedAt": "2026-11-06T12:00:00.000Z"}
    row.update(fields)
    return row


def test_it_maps_a_purchase_order_detail_with_items_in_cents():
    check("purchase_orders", purchase_order(), {
        "remote_id": "605", "number": "PO-0005", "upstream_status": "PARTIALLY_FULFILLED",
        "created_at": "2026-11-06T08:00:00+00:00", "updated_at": "2026-11-06T12:00:00+00:00",
        "status": "partially_received", "vendor": {"remote_id": "201", "name": None}, "order_date": None,
        "required_date": "2026-11-20", "currency": None, "subtotal": "234.37", "tax": None, "total": None,
        "payment_terms": None, "ship_to": None, "bill_to": None, "organization": None, "buyer": None,
        "lines": [
            {"line_number": 1, "item_code": None, "item": {"remote_id": "405", "code": None},
             "description": "Grease cartridge 400 g", "quantity": "12", "unit_of_measure": None,
             "unit_price": "7.45", "amount": "89.40", "tax_amount": None, "quantity_received": "6",
             "delivery_date": None, "status": "partially_received", "account": None},
            {"line_number": 2, "item_code": None, "item": {"remote_id": "406", "code": None},
             "description": "Gasket kit DN50", "quantity": "3", "unit_of_measure": None, "unit_price": "39.99",
             "amount": "119.97", "tax_amount": None, "quantity_received": "3", "delivery_date": None,
             "status": "received", "account": None},
            {"line_number": 3, "item_code": None, "item": None, "description": "Freight", "quantity": "1",
             "unit_of_measure": None, "unit_price": "25.00", "amount": "25.00", "tax_amount": None,
             "quantity_received": "0", "delivery_date": None, "status": "open", "account": None}],
        "custom_fields": {"title": "Restock 5", "autoGeneratedNumber": "PO-0005"}})


@pytest.mark.parametrize(("status", "unified", "line"), [
    ("REQUESTED", "pending_approval", "open"), ("PENDING", "pending_approval", "open"),
    ("APPROVED", "approved", "open"), ("DECLINED", "cancelled", "cancelled"),
    ("PARTIALLY_FULFILLED", "partially_received", "open"), ("COMPLETED", "received", "open"),
    ("CANCELED", "cancelled", "cancelled"), ("ARCHIVED", "open", "open")])
def test_it_maps_purchase_order_statuses(status, unified, line):
    items = [{"id": 1, "name": "x", "unitCost": 100, "price": 200, "quantityOrdered": 2, "quantityReceived": 0}]
    record = CONNECTOR.normalize("purchase_orders", purchase_order(status=status, items=items))
    assert (record["status"], record["upstream_status"], record["lines"][0]["status"]) == (unified, status, line)


def test_the_override_number_wins_and_an_order_without_items_has_no_subtotal():
    record = CONNECTOR.normalize("purchase_orders", purchase_order(overrideNumber="RTM-5", items=[]))
    assert record["number"] == "RTM-5" and record["lines"] == [] and record["subtotal"] is None
    record_validate("purchase_orders", record)


def test_it_refuses_records_it_cannot_read():
    with pytest.raises(MappingError, match="without id"):
        CONNECTOR.remote_id("assets", {"name": "no id"})
    with pytest.raises(MappingError, match="neither updatedAt nor createdAt"):
        CONNECTOR.normalize("vendors", {"id": 1, "name": "x"})
    with pytest.raises(MappingError, match="quantityOrdered"):
        CONNECTOR.normalize("purchase_orders", purchase_order(items=[{"id": 3, "quantityOrdered": 1.5}]))


def test_it_reads_maintainx_error_bodies():
    def response(status, body):
        return httpx.Response(status, json=body)

    assert maintainx_error_message(response(401, {"error": "Unauthorized"})) == "MaintainX: Unauthorized"
    assert maintainx_error_message(response(400, {"errors": [{"error": "limit too large"}, {"error": "bad sort"}]})) \
        == "MaintainX: limit too large; bad sort"
    multi = maintainx_error_message(response(400, {"error": "x-organization-id header is required"}))
    assert multi.startswith("MaintainX: x-organization-id header is required - ")
    assert "set the connection's Organization ID" in multi
    assert maintainx_error_message(httpx.Response(502, text="<html>Bad gateway</html>")) is None
    assert maintainx_error_message(response(500, {"message": "other"})) is None
