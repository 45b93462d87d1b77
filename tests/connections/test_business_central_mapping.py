"""business_central normalize(): raw API v2.0 rows as Business Central sends them (XML-encoded enums,
zero GUIDs, 0001-01-01, decimals as JSON numbers, read as Decimal by the client), against unified
records written by hand. Each expected record also passes the unified schema's validator."""

from decimal import Decimal

import pytest

from connections.connectors.base import MappingError
from connections.connectors.business_central import BusinessCentralConnector, bc_error_message, enum_value
from connections.connectors.schema import record_validate
from core.errors import CatalogError

CONNECTOR = BusinessCentralConnector(config={"tenant_id": "contoso.onmicrosoft.com", "company_id": "x"},
                                     credentials={"client_id": "c", "client_secret": "s"})
ZERO = "00000000-0000-0000-0000-000000000000"
ORDER_ID = "5d115c9c-44e3-ea11-bb43-000d3a2feca1"
VENDOR_ID = "9b2c2f7a-44e3-ea11-bb43-000d3a2feca1"
ITEM_ID = "ab1f4c02-44e3-ea11-bb43-000d3a2feca1"


def line(sequence, **fields):
    row = {"@odata.etag": 'W/"JzE5OzEyMzQ1Njc4OTAxMjM0NTY3ODkxOzAwOyc="', "id": f"{sequence:08d}-0000-4000-8000-1",
           "documentId": ORDER_ID, "sequence": sequence, "itemId": ZERO, "accountId": ZERO, "lineType": "Item",
           "lineObjectNumber": "", "description": "", "unitOfMeasureId": ZERO, "unitOfMeasureCode": "",
           "quantity": 0, "directUnitCost": 0, "discountAmount": 0, "discountPercent": 0,
           "discountAppliedBeforeTax": False, "amountExcludingTax": 0, "taxCode": "", "taxPercent": 0,
           "totalTaxAmount": 0, "amountIncludingTax": 0, "expectedReceiptDate": "0001-01-01",
           "receivedQuantity": 0, "invoicedQuantity": 0, "itemVariantId": ZERO, "locationId": ZERO}
    row.update(fields)
    return row


def purchase_order(**fields):
    row = {
        "@odata.etag": 'W/"JzIwOzE0NjI1MTU0NjQ0NTMxMzE3NjY1MTswMDsn"', "id": ORDER_ID, "number": "106001",
        "orderDate": "2026-11-03", "postingDate": "2026-11-03", "vendorId": VENDOR_ID, "vendorNumber": "20000",
        "vendorName": "First Up Consultants", "payToName": "First Up Consultants", "payToVendorId": VENDOR_ID,
        "payToVendorNumber": "20000", "shipToName": "CRONUS USA, Inc.", "shipToContact": "",
        "buyFromAddressLine1": "100 Day Drive", "buyFromAddressLine2": "", "buyFromCity": "Chicago",
        "buyFromCountry": "US", "buyFromState": "IL", "buyFromPostCode": "61236",
        "payToAddressLine1": "100 Day Drive", "payToAddressLine2": "", "payToCity": "Chicago", "payToCountry": "US",
        "payToState": "IL", "payToPostCode": "61236", "shipToAddressLine1": "7122 South Ashford Street",
        "shipToAddressLine2": "Westminster", "shipToCity": "Atlanta", "shipToCountry": "US", "shipToState": "GA",
        "shipToPostCode": "31772", "shortcutDimension1Code": "", "shortcutDimension2Code": "", "currencyId": ZERO,
        "currencyCode": "USD", "pricesIncludeTax": False, "paymentTermsId": ZERO, "shipmentMethodId": ZERO,
        "purchaser": "JO", "requestedReceiptDate": "2026-11-24", "discountAmount": 0,
        "discountAppliedBeforeTax": True, "totalAmountExcludingTax": Decimal("1659.70"),
        "totalTaxAmount": Decimal("96.85"), "totalAmountIncludingTax": Decimal("1756.55"), "fullyReceived": False,
        "status": "Open", "lastModifiedDateTime": "2026-11-20T09:35:00.45Z",
        "purchaseOrderLines": [
            line(20000, lineType="Account", accountId="b1a0c3d4-44e3-ea11-bb43-000d3a2feca1",
                 lineObjectNumber="61300", description="Freight", quantity=1, directUnitCost=Decimal("45.5"),
                 amountExcludingTax=Decimal("45.5"), amountIncludingTax=Decimal("45.5")),
            line(10000, itemId=ITEM_ID, lineObjectNumber="70040", description="Hinges, Set", unitOfMeasureCode="SET",
                 quantity=Decimal("371"), directUnitCost=Decimal("4.35"), amountExcludingTax=Decimal("1613.85"),
                 taxPercent=6, totalTaxAmount=Decimal("96.83"), amountIncludingTax=Decimal("1710.68"),
                 expectedReceiptDate="2026-11-13", receivedQuantity=Decimal("120.5")),
            line(30000, lineType="Comment", description="Deliver to gate 4"),
        ]}
    row.update(fields)
    return row


def test_it_maps_a_partly_received_open_order_with_an_account_and_a_comment_line():
    expected = {
        "remote_id": ORDER_ID, "number": "106001", "upstream_status": "Open", "created_at": None,
        "updated_at": "2026-11-20T09:35:00.450000+00:00", "status": "partially_received",
        "vendor": {"remote_id": VENDOR_ID, "name": "First Up Consultants"},
        "order_date": "2026-11-03", "required_date": "2026-11-24", "currency": "USD", "subtotal": "1659.70",
        "tax": "96.85", "total": "1756.55", "payment_terms": None,
        "ship_to": "CRONUS USA, Inc., 7122 South Ashford Street, Westminster, 31772, Atlanta, GA, US",
        "bill_to": "First Up Consultants, 100 Day Drive, 61236, Chicago, IL, US", "organization": None,
        "buyer": "JO",
        "lines": [
            {"line_number": 10000, "item_code": "70040", "item": {"remote_id": ITEM_ID, "code": "70040"},
             "description": "Hinges, Set", "quantity": "371", "unit_of_measure": "SET", "unit_price": "4.35",
             "amount": "1613.85", "tax_amount": "96.83", "quantity_received": "120.5",
             "delivery_date": "2026-11-13", "status": "partially_received", "account": None},
            {"line_number": 20000, "item_code": "61300", "item": None, "description": "Freight", "quantity": "1",
             "unit_of_measure": None, "unit_price": "45.5", "amount": "45.50", "tax_amount": "0.00",
             "quantity_received": "0", "delivery_date": None, "status": "open", "account": "61300"},
            {"line_number": 30000, "item_code": None, "item": None, "description": "Deliver to gate 4",
             "quantity": "0", "unit_of_measure": None, "unit_price": "0", "amount": "0.00", "tax_amount": "0.00",
             "quantity_received": "0", "delivery_date": None, "status": "open", "account": None},
        ],
        "custom_fields": {"vendorNumber": "20000", "postingDate": "2026-11-03", "payToVendorNumber": "20000",
                          "discountAmount": 0, "pricesIncludeTax": False, "fullyReceived": False},
    }
    record = CONNECTOR.normalize("purchase_orders", purchase_order())
    assert record == expected
    record_validate("purchase_orders", record)


def test_it_maps_an_order_in_review_in_a_foreign_currency_with_empty_dates_and_a_fixed_asset_line():
    raw = purchase_order(
        number="106007", status="In_x0020_Review", currencyId="3f9e0a1b-44e3-ea11-bb43-000d3a2feca1",
        currencyCode="jpy", requestedReceiptDate="0001-01-01", orderDate="2026-11-09", purchaser="",
        totalAmountExcludingTax=Decimal("245000"), totalTaxAmount=Decimal("24500.4"),
        totalAmountIncludingTax=Decimal("269500.4"), payToName="", payToAddressLine1="", payToCity="",
        payToPostCode="", payToState="", payToCountry="", lastModifiedDateTime="2026-11-20T10:00:00Z",
        paymentTermsId="1c0d9e8f-44e3-ea11-bb43-000d3a2feca1",
        purchaseOrderLines=[line(10000, lineType="Fixed_x0020_Asset", lineObjectNumber="FA000070",
                                 description="Forklift battery", unitOfMeasureCode="PCS", quantity=1,
                                 directUnitCost=Decimal("245000"), amountExcludingTax=Decimal("245000"),
                                 totalTaxAmount=Decimal("24500.4"))])
    expected = {
        "remote_id": ORDER_ID, "number": "106007", "upstream_status": "In Review", "created_at": None,
        "updated_at": "2026-11-20T10:00:00+00:00", "status": "pending_approval",
        "vendor": {"remote_id": VENDOR_ID, "name": "First Up Consultants"},
        "order_date": "2026-11-09", "required_date": None, "currency": "JPY", "subtotal": "245000",
        "tax": "24500", "total": "269500", "payment_terms": None,
        "ship_to": "CRONUS USA, Inc., 7122 South Ashford Street, Westminster, 31772, Atlanta, GA, US",
        "bill_to": None, "organization": None, "buyer": None,
        "lines": [{"line_number": 10000, "item_code": "FA000070", "item": None, "description": "Forklift battery",
                   "quantity": "1", "unit_of_measure": "PCS", "unit_price": "245000", "amount": "245000",
                   "tax_amount": "24500", "quantity_received": "0", "delivery_date": None, "status": "open",
                   "account": None}],
        "custom_fields": {"vendorNumber": "20000", "postingDate": "2026-11-03", "payToVendorNumber": "20000",
                          "paymentTermsId": "1c0d9e8f-44e3-ea11-bb43-000d3a2feca1", "discountAmount": 0,
                          "pricesIncludeTax": False, "fullyReceived": False},
    }
    record = CONNECTOR.normalize("purchase_orders", raw)
    assert record == expected
    record_validate("purchase_orders", record)


@pytest.mark.parametrize(("status", "lines", "fully_received", "unified"), [
    ("Draft", [("10", "0", "0")], False, "draft"),
    ("Open", [("10", "0", "0")], False, "open"),
    ("Open", [("10", "10", "0"), ("5", "5", "0")], True, "received"),
    ("Open", [("10", "10", "10")], True, "closed"),
    ("Open", [("10", "10", "0"), ("5", "0", "0")], False, "partially_received"),
    ("Released", [("10", "0", "0")], False, "open"),
    ("Pending_x0020_Prepayment", [("10", "0", "0")], False, "open"),
    ("Draft", [("10", "10", "0")], True, "draft"),  # a draft stays a draft whatever its lines say
])
def test_it_maps_each_status_keeping_the_upstream_one(status, lines, fully_received, unified):
    raw = purchase_order(status=status, fullyReceived=fully_received, purchaseOrderLines=[
        line(10000 * (n + 1), itemId=ITEM_ID, lineObjectNumber="70040", quantity=Decimal(q),
             receivedQuantity=Decimal(r), invoicedQuantity=Decimal(i)) for n, (q, r, i) in enumerate(lines)])
    record = CONNECTOR.normalize("purchase_orders", raw)
    assert (record["status"], record["upstream_status"]) == (unified, enum_value(status))
    record_validate("purchase_orders", record)


def test_it_maps_a_vendor_blocked_for_payments_and_one_with_the_blank_member():
    raw = {"@odata.etag": 'W/"JzE5OzE"', "id": VENDOR_ID.upper(), "number": "30000",
           "displayName": "Graphic Design Institute", "addressLine1": "51 Radcliff Street", "addressLine2": "",
           "city": "Miami", "state": "FL", "country": "US", "postalCode": "37125", "phoneNumber": "+1 425 555 0100",
           "email": "orders@graphic.example.com", "website": "", "taxRegistrationNumber": "TX-30000",
           "currencyId": ZERO, "currencyCode": "", "irs1099Code": "", "paymentTermsId": ZERO,
           "paymentMethodId": ZERO, "taxLiable": True, "blocked": "Payment", "balance": Decimal("1250.5"),
           "lastModifiedDateTime": "2026-11-20T08:15:00.27Z"}
    expected = {"remote_id": VENDOR_ID, "number": "30000", "upstream_status": "Payment", "created_at": None,
                "updated_at": "2026-11-20T08:15:00.270000+00:00", "name": "Graphic Design Institute",
                "code": "30000", "email": "orders@graphic.example.com", "phone": "+1 425 555 0100",
                "address": {"line1": "51 Radcliff Street", "line2": None, "city": "Miami", "region": "FL",
                            "postal_code": "37125", "country": "US"},
                "currency": None, "status": "inactive", "tax_id": "TX-30000",
                "custom_fields": {"taxLiable": True, "balance": "1250.5"}}
    record = CONNECTOR.normalize("vendors", raw)
    assert record == expected
    record_validate("vendors", record)
    open_vendor = CONNECTOR.normalize("vendors", {**raw, "blocked": "_x0020_", "currencyCode": "CAD",
                                                  "country": "", "addressLine1": "", "city": "", "state": "",
                                                  "postalCode": ""})
    assert (open_vendor["status"], open_vendor["upstream_status"], open_vendor["currency"],
            open_vendor["address"]) == ("active", None, "CAD", None)


def test_it_maps_an_item_and_a_location():
    item = {"id": ITEM_ID, "number": "80100", "displayName": "Printing Paper", "type": "Non_x002D_Inventory",
            "itemCategoryId": ZERO, "itemCategoryCode": "", "blocked": True, "gtin": "", "inventory": 0,
            "unitPrice": Decimal("10.43"), "priceIncludesTax": False, "unitCost": Decimal("7.45"), "taxGroupId": ZERO,
            "taxGroupCode": "", "baseUnitOfMeasureId": ZERO, "baseUnitOfMeasureCode": "BOX",
            "generalProductPostingGroupId": ZERO, "generalProductPostingGroupCode": "RETAIL",
            "inventoryPostingGroupId": ZERO, "inventoryPostingGroupCode": "",
            "lastModifiedDateTime": "2026-11-20T08:50:00.81Z"}
    expected_item = {"remote_id": ITEM_ID, "number": "80100", "upstream_status": "Blocked", "created_at": None,
                     "updated_at": "2026-11-20T08:50:00.810000+00:00", "code": "80100", "name": "Printing Paper",
                     "description": None, "status": "inactive", "unit_of_measure": "BOX", "quantity_on_hand": "0",
                     "minimum_quantity": None, "unit_cost": "7.45", "currency": None, "location": None, "site": None,
                     "stock": [], "custom_fields": {"type": "Non-Inventory", "unitPrice": "10.43",
                                                    "priceIncludesTax": False,
                                                    "generalProductPostingGroupCode": "RETAIL"}}
    assert CONNECTOR.normalize("inventory_items", item) == expected_item
    record_validate("inventory_items", expected_item)
    location = {"id": "e4c1b2a3-44e3-ea11-bb43-000d3a2feca1", "code": "OUT. LOG.",
                "displayName": "Outsourced Logistics", "contact": "Jim Olive", "addressLine1": "1 Dock Road",
                "addressLine2": "", "city": "Dallas", "state": "TX", "country": "us", "postalCode": "75201",
                "phoneNumber": "", "email": "", "website": "", "lastModifiedDateTime": "2026-11-20T09:10:01Z"}
    expected_location = {"remote_id": "e4c1b2a3-44e3-ea11-bb43-000d3a2feca1", "number": "OUT. LOG.",
                         "upstream_status": None, "created_at": None, "updated_at": "2026-11-20T09:10:01+00:00",
                         "name": "Outsourced Logistics", "code": "OUT. LOG.", "status": "active", "parent": None,
                         "address": {"line1": "1 Dock Road", "line2": None, "city": "Dallas", "region": "TX",
                                     "postal_code": "75201", "country": "US"},
                         "custom_fields": {"contact": "Jim Olive"}}
    assert CONNECTOR.normalize("locations", location) == expected_location
    record_validate("locations", expected_location)


@pytest.mark.parametrize(("wire", "decoded"), [
    ("In_x0020_Review", "In Review"), ("_x0020_", None), ("Non_x002D_Inventory", "Non-Inventory"),
    ("Fixed_x0020_Asset", "Fixed Asset"), ("Open", "Open"), ("", None), (None, None),
])
def test_it_decodes_xml_encoded_enum_members(wire, decoded):
    assert enum_value(wire) == decoded


@pytest.mark.parametrize(("changes", "reason"), [
    ({"lastModifiedDateTime": "0001-01-01T00:00:00Z"}, "lastModifiedDateTime is empty"),
    ({"lastModifiedDateTime": "yesterday"}, "lastModifiedDateTime"),
    ({"orderDate": "2026-13-01"}, "orderDate"),
    ({"totalAmountExcludingTax": 12.5}, "totalAmountExcludingTax"),  # a float: the amount is already lost
    ({"purchaseOrderLines": None}, "purchaseOrderLines was not expanded"),
])
def test_it_refuses_unreadable_rows(changes, reason):
    with pytest.raises(MappingError, match=reason):
        CONNECTOR.normalize("purchase_orders", purchase_order(**changes))


def test_remote_ids_are_lower_case_guids_and_required():
    assert CONNECTOR.remote_id("vendors", {"id": VENDOR_ID.upper()}) == VENDOR_ID
    for raw in ({"id": ZERO}, {"id": ""}, {}):
        with pytest.raises(MappingError):
            CONNECTOR.remote_id("vendors", raw)


class FakeResponse:
    def __init__(self, body):
        self.body = body

    def json(self):
        if isinstance(self.body, Exception):
            raise self.body
        return self.body


def test_it_reads_business_central_and_identity_platform_error_bodies():
    assert bc_error_message(FakeResponse({"error": {"code": "Authentication_InvalidCredentials",
                                                    "message": "The server has rejected the client credentials."}})) \
        == "Business Central: The server has rejected the client credentials. [Authentication_InvalidCredentials]"
    assert bc_error_message(FakeResponse({"error": "invalid_scope", "error_description": "AADSTS1002012: bad"})) \
        == "Microsoft identity platform: invalid_scope: AADSTS1002012: bad"
    assert bc_error_message(FakeResponse(ValueError("not json"))) is None
    assert bc_error_message(FakeResponse(["x"])) is None


@pytest.mark.parametrize(("config", "field"), [
    ({"tenant_id": "contoso/../x"}, "config.tenant_id"),
    ({"tenant_id": "t", "environment": "prod/x"}, "config.environment"),
    ({"tenant_id": "t", "company_id": "CRONUS"}, "config.company_id"),
])
def test_it_refuses_config_values_that_would_change_the_url(config, field):
    with pytest.raises(CatalogError) as exc:
        BusinessCentralConnector.validate(config=config, credentials={"client_id": "c", "client_secret": "s"})
    assert field in exc.value.details["fields"]


def test_it_fills_in_the_defaults_and_normalizes_the_company_id():
    config = BusinessCentralConnector.validate(
        config={"tenant_id": "contoso.onmicrosoft.com", "company_id": " C1A2B3C4-0001-4000-8000-00000000C0DE "},
        credentials={"client_id": "c", "client_secret": "s"})
    assert config == {"tenant_id": "contoso.onmicrosoft.com", "environment": "production",
                      "company_id": "c1a2b3c4-0001-4000-8000-00000000c0de",
                      "api_base_url": "https://api.businesscentral.dynamics.com",
                      "login_base_url": "https://login.microsoftonline.com", "requests_per_minute": 600}
    connector = BusinessCentralConnector(config=config, credentials={})
    assert connector.token_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert connector.api_root == ("https://api.businesscentral.dynamics.com/v2.0/contoso.onmicrosoft.com/production"
                                  "/api/v2.0")
