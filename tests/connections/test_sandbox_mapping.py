"""The sandbox's mapping, checked against unified records written out by hand (docs/entities.md).

Each raw record is in the sandbox's upstream format; each expected record is what the unified
model says it means. Neither is produced by the code under test.
"""

import pytest

from connections.connectors.base import MappingError
from connections.connectors.sandbox import SandboxConnector
from connections.connectors.schema import record_validate

STAMPS = {"CreatedAt": "2026-09-01T06:00:00+00:00", "ChangedAt": "2026-09-03T14:30:00+00:00", "Version": 2}
COMMON = {"created_at": "2026-09-01T06:00:00+00:00", "updated_at": "2026-09-03T14:30:00+00:00",
          "custom_fields": {"version": 2}}

CASES = {
    "vendors": (
        {"Id": "V100007", "SupplierName": "Allied Valves GmbH", "SupplierCode": "SUP-000007",
         "Email": "orders7@supplier12.example", "Phone": "+49 40 1234567", "Street": "12 Industriestrasse",
         "Street2": "Gate 3", "City": "Hamburg", "Region": "HH", "PostalCode": "20095", "Country": "DE",
         "Currency": "EUR", "VatId": "DE123456789", "Blocked": True},
        {"remote_id": "V100007", "number": "SUP-000007", "name": "Allied Valves GmbH", "code": "SUP-000007",
         "email": "orders7@supplier12.example", "phone": "+49 40 1234567",
         "address": {"line1": "12 Industriestrasse", "line2": "Gate 3", "city": "Hamburg", "region": "HH",
                     "postal_code": "20095", "country": "DE"},
         "currency": "EUR", "status": "inactive", "upstream_status": "BLOCKED", "tax_id": "DE123456789"}),
    "locations": (
        {"Id": "L10021", "Description": "Houston plant 2 / Area 1", "Code": "LOC-00021", "ParentId": "L10020",
         "Status": "OPEN", "Street": "5 Werkstrasse", "City": "Houston", "Region": "TX", "PostalCode": "77002",
         "Country": "US"},
        {"remote_id": "L10021", "number": "LOC-00021", "name": "Houston plant 2 / Area 1", "code": "LOC-00021",
         "status": "active", "upstream_status": "OPEN", "parent": {"remote_id": "L10020"},
         "address": {"line1": "5 Werkstrasse", "line2": None, "city": "Houston", "region": "TX",
                     "postal_code": "77002", "country": "US"}}),
    "assets": (
        {"Id": "A200013", "Description": "Boiler K-113", "LongText": "Boiler installed 2026-09-01",
         "Status": "maintenance", "Class": "Boiler", "Plant": "P001",
         "Location": {"Id": "L10003", "Name": "Hamburg plant 1 / Area 3"}, "ParentId": "A200001",
         "SerialNo": "SN0000004711", "Manufacturer": "Alfa Laval", "ModelNo": "M4242"},
        {"remote_id": "A200013", "number": "A200013", "name": "Boiler K-113",
         "description": "Boiler installed 2026-09-01", "status": "maintenance", "upstream_status": "maintenance",
         "site": "P001", "category": "Boiler", "location": {"remote_id": "L10003", "name": "Hamburg plant 1 / Area 3"},
         "parent": {"remote_id": "A200001"}, "serial_number": "SN0000004711", "manufacturer": "Alfa Laval",
         "model": "M4242"}),
    "inventory_items": (
        {"Id": "I300002", "Material": "MAT-000002", "MaterialText": "Air filter", "LongText": "Air filter, stock item",
         "BaseUnit": "EA", "Blocked": False, "OnHand": "40", "ReorderPoint": "10", "UnitCostCents": 1999,
         "Currency": "SEK", "Location": {"Id": "L10040", "Name": "Gothenburg plant 3"}, "Plant": "P003",
         "Stock": [{"Location": {"Id": "L10040", "Name": "Gothenburg plant 3"}, "Qty": 30, "Bin": "A-02-1"},
                   {"Location": {"Id": "L10041", "Name": "Gothenburg plant 3 / Area 1"}, "Qty": 10, "Bin": None}]},
        {"remote_id": "I300002", "number": "MAT-000002", "code": "MAT-000002", "name": "Air filter",
         "description": "Air filter, stock item", "status": "active", "upstream_status": "RELEASED",
         "unit_of_measure": "EA", "quantity_on_hand": "40", "minimum_quantity": "10", "unit_cost": "19.99",
         "currency": "SEK", "location": {"remote_id": "L10040", "name": "Gothenburg plant 3"}, "site": "P003",
         "stock": [{"location": {"remote_id": "L10040", "name": "Gothenburg plant 3"}, "quantity_on_hand": "30",
                    "bin": "A-02-1"},
                   {"location": {"remote_id": "L10041", "name": "Gothenburg plant 3 / Area 1"},
                    "quantity_on_hand": "10", "bin": None}]}),
    "purchase_orders": (
        {"Id": "PO5", "PurchaseOrder": "4500000005", "Status": "partially_received",
         "Supplier": {"Id": "V100003", "Name": "Summit Pumps Inc."}, "CompanyCode": "2000",
         "OrderDate": "2026-09-01", "RequiredDate": "2026-09-20", "Currency": "USD", "TaxRatePct": 8,
         "PaymentTerms": "NET45", "ShipTo": "Houston plant 2", "BillTo": "Accounts Payable, Head Office",
         "Buyer": "j.smith",
         "Lines": [{"ItemNo": 10, "Material": "MAT-000004", "ItemId": "I300004", "Text": "Contactor 24V", "Qty": 3,
                    "Uom": "EA", "NetPriceCents": 1250, "Received": 3, "DeliveryDate": "2026-09-15",
                    "Account": "410000"},
                   {"ItemNo": 20, "Material": "MAT-000009", "ItemId": None, "Text": "Gasket kit", "Qty": 2,
                    "Uom": "KIT", "NetPriceCents": 333, "Received": 1, "DeliveryDate": "2026-09-18",
                    "Account": "CC-4711"}]},
        {"remote_id": "PO5", "number": "4500000005", "status": "partially_received",
         "upstream_status": "partially_received", "vendor": {"remote_id": "V100003", "name": "Summit Pumps Inc."},
         "order_date": "2026-09-01", "required_date": "2026-09-20", "currency": "USD",
         # 3 x 12.50 = 37.50 (tax 3.00) and 2 x 3.33 = 6.66 (tax 0.53, rounded down)
         "subtotal": "44.16", "tax": "3.53", "total": "47.69", "payment_terms": "NET45",
         "ship_to": "Houston plant 2", "bill_to": "Accounts Payable, Head Office",
         "organization": {"code": "2000", "name": "Nordwerk Industries Inc."}, "buyer": "j.smith",
         "lines": [{"line_number": 10, "item_code": "MAT-000004",
                    "item": {"remote_id": "I300004", "code": "MAT-000004"}, "description": "Contactor 24V",
                    "quantity": "3", "unit_of_measure": "EA", "unit_price": "12.50",
                    "amount": "37.50", "tax_amount": "3.00", "quantity_received": "3", "delivery_date": "2026-09-15",
                    "status": "received", "account": "410000"},
                   {"line_number": 20, "item_code": "MAT-000009", "item": {"remote_id": None, "code": "MAT-000009"},
                    "description": "Gasket kit", "quantity": "2", "unit_of_measure": "KIT", "unit_price": "3.33",
                    "amount": "6.66", "tax_amount": "0.53", "quantity_received": "1", "delivery_date": "2026-09-18",
                    "status": "partially_received", "account": "CC-4711"}]}),
    "work_orders": (
        {"Id": "W19", "WorkOrder": "WO-100019", "Title": "Corrective check of Gearbox",
         "Details": "Follow the standard checklist and record findings.", "Status": "COMP", "Priority": "high",
         "Type": "corrective", "Asset": {"Id": "A200004", "Name": "Gearbox C-104"},
         "Location": {"Id": "L10002", "Name": "Hamburg plant 1 / Area 2"}, "Plant": "P001",
         "AssignedTo": "k.tanaka", "Crew": ["k.tanaka", "r.patel"], "DueDate": "2026-09-10",
         "ScheduledStart": "2026-09-01T06:30:00+00:00", "ScheduledFinish": "2026-09-01T09:00:00+00:00",
         "EstimatedHours": "2.5", "StartedAt": "2026-09-01T07:00:00+00:00",
         "CompletedAt": "2026-09-01T08:00:00+00:00", "ActualHours": "1.0", "ActualCostCents": 12345,
         "FailureCode": "VIBRATION", "ParentId": "W10"},
        {"remote_id": "W19", "number": "WO-100019", "title": "Corrective check of Gearbox",
         "description": "Follow the standard checklist and record findings.", "status": "completed",
         "upstream_status": "COMP", "priority": "high", "type": "corrective",
         "asset": {"remote_id": "A200004", "name": "Gearbox C-104"},
         "location": {"remote_id": "L10002", "name": "Hamburg plant 1 / Area 2"}, "assigned_to": "k.tanaka",
         "assignees": ["k.tanaka", "r.patel"], "site": "P001", "due_date": "2026-09-10",
         "scheduled_start": "2026-09-01T06:30:00+00:00", "scheduled_end": "2026-09-01T09:00:00+00:00",
         "started_at": "2026-09-01T07:00:00+00:00", "completed_at": "2026-09-01T08:00:00+00:00",
         "estimated_hours": "2.5", "actual_hours": "1.0", "actual_cost": "123.45", "failure_code": "VIBRATION",
         "parent": {"remote_id": "W10"}}),
}


@pytest.fixture
def connector():
    return SandboxConnector(config={"seed": 1, "records": 10}, credentials={"api_key": "k"})


@pytest.mark.parametrize("entity", CASES)
def test_it_maps_each_entity_to_the_hand_written_unified_record(connector, entity):
    raw, expected = CASES[entity]
    unified = connector.normalize(entity, {**raw, **STAMPS})
    assert unified == {**expected, **COMMON}
    record_validate(entity, unified)


def test_it_maps_open_work_orders_with_nothing_booked_to_nulls(connector):
    raw = {**CASES["work_orders"][0], "Status": "WAPPR", "StartedAt": None, "CompletedAt": None, "ActualHours": None,
           "ActualCostCents": None, "FailureCode": None, "ParentId": None, "AssignedTo": None, "Crew": []}
    unified = connector.normalize("work_orders", {**raw, **STAMPS})
    assert (unified["status"], unified["upstream_status"]) == ("open", "WAPPR")
    assert [unified[k] for k in ("started_at", "completed_at", "actual_hours", "actual_cost", "parent")] == [None] * 5
    assert unified["assigned_to"] is None and unified["assignees"] == []


def test_it_refuses_a_record_missing_a_field_it_maps(connector):
    raw = {**CASES["vendors"][0], **STAMPS}
    del raw["VatId"]
    with pytest.raises(MappingError, match="vendors record V100007: missing or bad field 'VatId'"):
        connector.normalize("vendors", raw)
