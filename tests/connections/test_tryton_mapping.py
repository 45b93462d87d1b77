"""The tryton connector's normalize(): raw rows as Tryton 8.2's JSON-RPC sends them (after the
connector attached lines, addresses and stock), against unified records written by hand."""

from decimal import Decimal

import pytest

from connections.connectors.base import MappingError
from connections.connectors.schema.validation import record_validate
from connections.connectors.tryton import TrytonConnector


def dt(*parts):
    return dict(zip(("year", "month", "day", "hour", "minute", "second", "microsecond"), parts, strict=False),
                __class__="datetime")


def dec(text):
    return {"__class__": "Decimal", "decimal": text}


def day(y, m, d):
    return {"__class__": "date", "year": y, "month": m, "day": d}


CONNECTOR = TrytonConnector(config={"url": "https://erp.example.com/", "database": "prod"},
                            credentials={"username": "plantsync", "password": "x"})

RAW_PURCHASE = {
    "id": 42, "number": "P0042", "reference": "REQ-7", "description": "Spare seals", "state": "processing",
    "purchase_date": day(2026, 11, 3), "delivery_date": day(2026, 11, 20), "party": 7,
    "party.": {"id": 7, "rec_name": "Nordic Bearings GmbH"}, "currency.": {"id": 1, "code": "EUR"},
    "untaxed_amount": dec("150.00"), "tax_amount": dec("28.50"), "total_amount": dec("178.50"),
    "payment_term.": {"id": 2, "name": "30 days"}, "company": 1,
    "company.": {"id": 1, "rec_name": "Nordwerk Industries GmbH"},
    "warehouse.": {"id": 4, "rec_name": "[WH] Warehouse"},
    "invoice_address.": {"id": 9, "full_address": "Nordic Bearings GmbH\n1 Industriestrasse\n20095 Hamburg"},
    "invoice_method": "order", "shipment_state": "partially shipped", "invoice_state": "pending",
    "contact.": None, "create_date": dt(2026, 11, 3, 8, 15, 0, 0), "write_date": dt(2026, 11, 4, 9, 0, 0, 500),
    "lines": [
        {"id": 101, "purchase": 42, "sequence": 10, "type": "line", "product": 3,
         "product.": {"id": 3, "code": "SEAL-35"}, "description": "Mechanical seal 35mm", "quantity": 2.0,
         "unit": 1, "unit.": {"id": 1, "symbol": "u"}, "unit_price": dec("60.0000"), "amount": dec("120.00"),
         "delivery_date": day(2026, 11, 20), "moves_exception": False, "moves_progress": 0.5,
         "create_date": dt(2026, 11, 3, 8, 15, 0, 0), "write_date": None, "quantity_received": Decimal("1")},
        {"id": 102, "purchase": 42, "sequence": None, "type": "comment", "product": None, "product.": None,
         "description": "Deliver to gate 3", "quantity": None, "unit": None, "unit.": None, "unit_price": None,
         "amount": None, "delivery_date": None, "moves_exception": False, "moves_progress": None,
         "create_date": dt(2026, 11, 3, 8, 15, 0, 0), "write_date": dt(2026, 11, 5, 7, 30, 0, 0),
         "quantity_received": None},
        {"id": 103, "purchase": 42, "sequence": None, "type": "line", "product": None, "product.": None,
         "description": "Freight", "quantity": 1.0, "unit": 1, "unit.": {"id": 1, "symbol": "u"},
         "unit_price": dec("30.0000"), "amount": dec("30.00"), "delivery_date": None, "moves_exception": False,
         "moves_progress": None, "create_date": dt(2026, 11, 3, 8, 15, 0, 0), "write_date": None,
         "quantity_received": Decimal("0")},
    ],
}

EXPECTED_PURCHASE = {
    "remote_id": "42", "number": "P0042", "status": "partially_received", "upstream_status": "processing",
    "created_at": "2026-11-03T08:15:00+00:00", "updated_at": "2026-11-05T07:30:00+00:00",
    "vendor": {"remote_id": "7", "name": "Nordic Bearings GmbH"}, "order_date": "2026-11-03",
    "required_date": "2026-11-20", "currency": "EUR", "subtotal": "150.00", "tax": "28.50", "total": "178.50",
    "payment_terms": "30 days", "ship_to": "[WH] Warehouse",
    "bill_to": "Nordic Bearings GmbH 1 Industriestrasse 20095 Hamburg",
    "organization": {"code": "1", "name": "Nordwerk Industries GmbH"}, "buyer": None,
    "lines": [
        {"line_number": 10, "item_code": "SEAL-35", "item": {"remote_id": "3", "code": "SEAL-35"},
         "description": "Mechanical seal 35mm", "quantity": "2.0", "unit_of_measure": "u", "unit_price": "60.0000",
         "amount": "120.00", "tax_amount": None, "quantity_received": "1", "delivery_date": "2026-11-20",
         "status": "partially_received", "account": None},
        {"line_number": 3, "item_code": None, "item": None, "description": "Freight", "quantity": "1.0",
         "unit_of_measure": "u", "unit_price": "30.0000", "amount": "30.00", "tax_amount": None,
         "quantity_received": "0", "delivery_date": None, "status": "open", "account": None},
    ],
    "custom_fields": {"reference": "REQ-7", "description": "Spare seals", "invoice_method": "order",
                      "shipment_state": "partially shipped", "invoice_state": "pending"},
}


def test_it_maps_a_purchase_with_its_lines():
    unified = CONNECTOR.normalize("purchase_orders", RAW_PURCHASE)
    assert unified == EXPECTED_PURCHASE
    record_validate("purchase_orders", unified)


@pytest.mark.parametrize(("state", "status"), [
    ("draft", "draft"), ("quotation", "pending_approval"), ("confirmed", "approved"), ("done", "closed"),
    ("cancelled", "cancelled")])
def test_it_maps_every_purchase_state(state, status):
    raw = {**RAW_PURCHASE, "state": state, "lines": []}
    unified = CONNECTOR.normalize("purchase_orders", raw)
    assert (unified["status"], unified["upstream_status"]) == (status, state)


def test_it_maps_a_processing_purchase_by_what_was_received():
    lines = [{**RAW_PURCHASE["lines"][0], "quantity_received": Decimal("0")}]
    assert CONNECTOR.normalize("purchase_orders", {**RAW_PURCHASE, "lines": lines})["status"] == "open"
    lines = [{**RAW_PURCHASE["lines"][0], "quantity_received": Decimal("2.0")}]
    unified = CONNECTOR.normalize("purchase_orders", {**RAW_PURCHASE, "lines": lines})
    assert (unified["status"], unified["lines"][0]["status"]) == ("received", "received")


def test_it_maps_a_party_with_its_first_address():
    raw = {"id": 7, "name": "Nordic Bearings GmbH", "code": "SUP-7", "email": "orders@nordic.example",
           "phone": "+49 40 123456", "active": True, "tax_identifier.": {"id": 3, "code": "DE123456789"},
           "supplier_currency.": {"id": 1, "code": "EUR"}, "lang.": None,
           "create_date": dt(2026, 1, 2, 3, 4, 5, 0), "write_date": None,
           "addresses": [{"id": 9, "party": 7, "street": "1 Industriestrasse\nGate 3\n", "city": "Hamburg",
                          "postal_code": "20095", "subdivision.": {"id": 5, "name": "Hamburg"},
                          "country.": {"id": 1, "code": "DE"}, "sequence": 1}]}
    unified = CONNECTOR.normalize("vendors", raw)
    assert unified == {
        "remote_id": "7", "number": "SUP-7", "name": "Nordic Bearings GmbH", "code": "SUP-7",
        "email": "orders@nordic.example", "phone": "+49 40 123456",
        "address": {"line1": "1 Industriestrasse", "line2": "Gate 3", "city": "Hamburg", "region": "Hamburg",
                    "postal_code": "20095", "country": "DE"},
        "currency": "EUR", "status": "active", "upstream_status": "active", "tax_id": "DE123456789",
        "created_at": "2026-01-02T03:04:05+00:00", "updated_at": "2026-01-02T03:04:05+00:00",
        "custom_fields": {"language": None}}
    record_validate("vendors", unified)
    empty = {"id": 10, "party": 8, "street": "", "city": "", "postal_code": None, "subdivision.": None,
             "country.": None, "sequence": None}
    archived = CONNECTOR.normalize("vendors", {**raw, "active": False, "addresses": [empty]})
    assert (archived["status"], archived["upstream_status"], archived["address"]) == ("inactive", "archived", None)


def test_it_maps_a_location_and_its_parent():
    raw = {"id": 3, "name": "Storage Zone", "code": "STO", "type": "storage", "active": True, "parent": 4,
           "address": None, "create_date": dt(2026, 1, 1, 0, 0, 0, 0), "write_date": dt(2026, 2, 1, 12, 0, 0, 0)}
    unified = CONNECTOR.normalize("locations", raw)
    assert unified == {"remote_id": "3", "number": "STO", "name": "Storage Zone", "code": "STO", "status": "active",
                       "upstream_status": "active", "parent": {"remote_id": "4"}, "address": None,
                       "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-02-01T12:00:00+00:00",
                       "custom_fields": {"type": "storage", "address_id": None}}
    record_validate("locations", unified)


def test_it_maps_a_product_with_stock_per_warehouse():
    raw = {"id": 5, "code": "BRG-6204", "name": "Ball bearing 6204", "description": "Deep groove", "active": True,
           "type": "goods", "default_uom.": {"id": 1, "symbol": "u"}, "cost_price": dec("8.5000"),
           "list_price": dec("17.0000"), "template": 5, "create_date": dt(2026, 3, 1, 10, 0, 0, 0),
           "write_date": dt(2026, 3, 2, 10, 0, 0, 0),
           "stock": [{"location": {"id": 4, "name": "Warehouse"}, "quantity": 6.0},
                     {"location": {"id": 9, "name": "Second Warehouse"}, "quantity": 1.5}]}
    unified = CONNECTOR.normalize("inventory_items", raw)
    assert unified == {
        "remote_id": "5", "number": "BRG-6204", "code": "BRG-6204", "name": "Ball bearing 6204",
        "description": "Deep groove", "status": "active", "upstream_status": "active", "unit_of_measure": "u",
        "quantity_on_hand": "7.5", "minimum_quantity": None, "unit_cost": "8.5000", "currency": None,
        "location": None, "site": None,
        "stock": [{"location": {"remote_id": "4", "name": "Warehouse"}, "quantity_on_hand": "6.0", "bin": None},
                  {"location": {"remote_id": "9", "name": "Second Warehouse"}, "quantity_on_hand": "1.5",
                   "bin": None}],
        "created_at": "2026-03-01T10:00:00+00:00", "updated_at": "2026-03-02T10:00:00+00:00",
        "custom_fields": {"type": "goods", "template_id": 5, "list_price": "17.0000"}}
    record_validate("inventory_items", unified)


def test_it_refuses_a_row_it_cannot_map():
    with pytest.raises(MappingError):
        CONNECTOR.normalize("purchase_orders", {**RAW_PURCHASE, "create_date": None, "write_date": "yesterday"})
    with pytest.raises(MappingError):
        CONNECTOR.remote_id("vendors", {"name": "no id"})



def test_it_reads_changes_since_a_time_as_tryton_naive_utc():
    from datetime import datetime, timedelta, timezone

    from connections.connectors.base import ReadRequest

    when = datetime(2026, 11, 30, 9, 15, 0, tzinfo=timezone(timedelta(hours=1)))
    sent = {"__class__": "datetime", "year": 2026, "month": 11, "day": 30, "hour": 8, "minute": 15, "second": 0,
            "microsecond": 0}
    domain = CONNECTOR._domain(ReadRequest(entity="vendors", since=when, window_start=None))
    assert domain == ["OR", [["write_date", ">=", sent]], [["create_date", ">=", sent]]]
