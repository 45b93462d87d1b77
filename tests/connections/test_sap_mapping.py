"""sap_s4hana normalize(): raw OData V2 rows as SAP sends them, against unified records written by
hand. Each expected record also passes the unified schema's validator."""

import pytest

from connections.connectors.base import MappingError
from connections.connectors.sap_s4hana import SapS4HanaConnector, sap_error_message
from connections.connectors.schema import record_validate

CONNECTOR = SapS4HanaConnector(config={"base_url": "https://my-s4.example.com"},
                               credentials={"username": "U", "password": "P"})
META = {"uri": "https://my-s4.example.com/sap/opu/odata/sap/API_PURCHASEORDER_PROCESS_SRV/A_PurchaseOrder('x')",
        "type": "API_PURCHASEORDER_PROCESS_SRV.A_PurchaseOrderType"}


def item(number, **fields):
    row = {"__metadata": META, "PurchaseOrder": "4500000028", "PurchaseOrderItem": number,
           "PurchasingDocumentDeletionCode": "", "PurchaseOrderItemText": "", "Plant": "1010", "Material": "",
           "OrderQuantity": "1", "PurchaseOrderQuantityUnit": "EA", "NetPriceAmount": "0.00",
           "NetPriceQuantity": "1", "DocumentCurrency": "EUR", "IsCompletelyDelivered": False,
           "IsFinallyInvoiced": False, "to_ScheduleLine": {"__deferred": {"uri": "x"}}}
    row.update(fields)
    return row


def purchase_order(**fields):
    row = {"__metadata": META, "PurchaseOrder": "4500000028", "CompanyCode": "1010", "PurchaseOrderType": "NB",
           "PurchasingDocumentDeletionCode": "", "PurchasingProcessingStatus": "05",
           "CreatedByUser": "CB9980000011", "CreationDate": "/Date(1792540800000)/",
           "LastChangeDateTime": "/Date(1793009700000+0000)/", "Supplier": "17300001", "PaymentTerms": "0004",
           "PurchasingOrganization": "1010", "PurchasingGroup": "001", "PurchaseOrderDate": "/Date(1792540800000)/",
           "DocumentCurrency": "EUR", "ExchangeRate": "1.00000", "IncotermsClassification": "EXW",
           "to_PurchaseOrderItem": {"results": [
               item("10", Material="TG11", PurchaseOrderItemText="Ball bearing 6204-2RS", OrderQuantity="12",
                    NetPriceAmount="435.00", NetPriceQuantity="100", IsCompletelyDelivered=True),
               item("20", Material="TG12", PurchaseOrderItemText="Hydraulic oil ISO VG 46",
                    OrderQuantity="208.5", PurchaseOrderQuantityUnit="L", NetPriceAmount="3.10"),
               item("30", PurchaseOrderItemText="Freight", OrderQuantity="1", NetPriceAmount="99.00",
                    PurchasingDocumentDeletionCode="L"),
           ]}}
    row.update(fields)
    return row


def test_it_maps_a_purchase_order_with_prices_per_100_and_a_deleted_item():
    # 12 x 435.00 / 100 = 52.20; 208.5 x 3.10 = 646.35; item 30 is deleted: subtotal 698.55.
    # CreationDate 2026-10-21; LastChangeDateTime 1793009700000 ms = 2026-10-26T10:15:00Z.
    expected = {
        "remote_id": "4500000028", "number": "4500000028", "upstream_status": "05",
        "created_at": "2026-10-21T00:00:00+00:00", "updated_at": "2026-10-26T10:15:00+00:00",
        "status": "partially_received", "vendor": {"remote_id": "17300001", "name": None},
        "order_date": "2026-10-21", "required_date": None, "currency": "EUR", "subtotal": "698.55", "tax": None,
        "total": None, "payment_terms": "0004", "ship_to": None, "bill_to": None,
        "organization": {"code": "1010", "name": None}, "buyer": "001",
        "lines": [
            {"line_number": 10, "item_code": "TG11", "item": {"remote_id": None, "code": "TG11"},
             "description": "Ball bearing 6204-2RS", "quantity": "12", "unit_of_measure": "EA",
             "unit_price": "4.35", "amount": "52.20", "tax_amount": None, "quantity_received": None,
             "delivery_date": None, "status": "received", "account": None},
            {"line_number": 20, "item_code": "TG12", "item": {"remote_id": None, "code": "TG12"},
             "description": "Hydraulic oil ISO VG 46", "quantity": "208.5", "unit_of_measure": "L",
             "unit_price": "3.1", "amount": "646.35", "tax_amount": None, "quantity_received": None,
             "delivery_date": None, "status": "open", "account": None},
            {"line_number": 30, "item_code": None, "item": None, "description": "Freight", "quantity": "1",
             "unit_of_measure": "EA", "unit_price": "99", "amount": "99.00", "tax_amount": None,
             "quantity_received": None, "delivery_date": None, "status": "cancelled", "account": None},
        ],
        "custom_fields": {"PurchaseOrderType": "NB", "PurchasingOrganization": "1010",
                          "CreatedByUser": "CB9980000011", "IncotermsClassification": "EXW"},
    }
    record = CONNECTOR.normalize("purchase_orders", purchase_order())
    assert record == expected
    record_validate("purchase_orders", record)


def test_it_maps_a_deleted_never_changed_purchase_order_in_approval():
    raw = purchase_order(PurchaseOrder="4500000031", PurchasingProcessingStatus="03", LastChangeDateTime="",
                         PurchasingDocumentDeletionCode="L", DocumentCurrency="JPY", to_PurchaseOrderItem={
                             "results": [item("10", OrderQuantity="3", NetPriceAmount="1250.5",
                                              DocumentCurrency="JPY")]})
    record = CONNECTOR.normalize("purchase_orders", raw)
    # Never changed: updated_at is the CreationDate. Deletion code L: cancelled, deleted at that time.
    assert (record["status"], record["upstream_status"]) == ("cancelled", "03")
    assert record["updated_at"] == record["deleted_at"] == "2026-10-21T00:00:00+00:00"
    assert record["currency"] == "JPY" and record["subtotal"] == "3752" and record["lines"][0]["amount"] == "3752"
    assert record["custom_fields"]["PurchasingDocumentDeletionCode"] == "L"
    record_validate("purchase_orders", record)


@pytest.mark.parametrize(("code", "delivered", "invoiced", "status"), [
    ("01", (False,), (False,), "draft"), ("02", (False,), (False,), "open"),
    ("03", (False,), (False,), "pending_approval"), ("04", (False,), (False,), "pending_approval"),
    ("05", (True, True), (False, False), "received"), ("05", (True,), (True,), "closed"),
    ("08", (False,), (False,), "cancelled"), ("99", (False,), (False,), "open"),
])
def test_it_maps_processing_statuses_and_delivery(code, delivered, invoiced, status):
    items = [item(str(10 * (n + 1)), IsCompletelyDelivered=d, IsFinallyInvoiced=i, NetPriceAmount="1.00")
             for n, (d, i) in enumerate(zip(delivered, invoiced, strict=True))]
    record = CONNECTOR.normalize("purchase_orders", purchase_order(
        PurchasingProcessingStatus=code, to_PurchaseOrderItem={"results": items}))
    assert (record["status"], record["upstream_status"]) == (status, code)


def test_it_refuses_a_purchase_order_whose_items_were_not_expanded():
    raw = purchase_order(to_PurchaseOrderItem={"__deferred": {"uri": "https://my-s4.example.com/x"}})
    with pytest.raises(MappingError, match="not expanded"):
        CONNECTOR.normalize("purchase_orders", raw)
    with pytest.raises(MappingError, match="OData date"):
        CONNECTOR.normalize("purchase_orders", purchase_order(LastChangeDateTime="2026-10-26T10:15:00Z"))


def test_it_maps_a_supplier():
    raw = {"__metadata": {"type": "API_BUSINESS_PARTNER.A_SupplierType"}, "Supplier": "17300003",
           "CreationDate": "/Date(1741046400000)/", "SupplierName": "Nordic Seals AB",
           "SupplierFullName": "Nordic Seals AB", "SupplierAccountGroup": "SUPL", "PostingIsBlocked": True,
           "PurchasingIsBlocked": False, "DeletionIndicator": False, "VATRegistration": "SE812345672",
           "TaxNumber1": ""}
    expected = {"remote_id": "17300003", "number": "17300003", "upstream_status": "PostingIsBlocked",
                "created_at": "2025-03-04T00:00:00+00:00", "updated_at": "2025-03-04T00:00:00+00:00",
                "name": "Nordic Seals AB", "code": "17300003", "email": None, "phone": None, "address": None,
                "currency": None, "status": "inactive", "tax_id": "SE812345672",
                "custom_fields": {"SupplierAccountGroup": "SUPL", "SupplierFullName": "Nordic Seals AB"}}
    record = CONNECTOR.normalize("vendors", raw)
    assert record == expected
    record_validate("vendors", record)


def test_it_maps_equipment():
    raw = {"Equipment": "10000102", "ValidityEndDate": "/Date(253402214400000)/", "EquipmentName":
           "Conveyor drive CV-301", "EquipmentCategory": "M", "TechnicalObjectType": "GEARBOX",
           "AssetManufacturerName": "SEW-Eurodrive", "ManufacturerPartTypeName": "R97 DRN132",
           "ManufacturerSerialNumber": "SEW-0098123", "MaintenancePlant": "1010", "AssetLocation": "HALL-A",
           "CompanyCode": "1010", "FunctionalLocation": "1010-PLT-A3", "SuperordinateEquipment": "10000100",
           "EquipmentIsAvailable": True, "CreationDate": "/Date(1705276800000)/",
           "LastChangeDateTime": "/Date(1795073400000+0000)/", "EquipmentIsMarkedForDeletion": True}
    expected = {"remote_id": "10000102", "number": "10000102", "upstream_status": "EquipmentIsMarkedForDeletion",
                "created_at": "2024-01-15T00:00:00+00:00", "updated_at": "2026-11-19T07:30:00+00:00",
                "name": "Conveyor drive CV-301", "description": None, "status": "decommissioned", "site": "1010",
                "category": "GEARBOX", "location": {"remote_id": "1010-PLT-A3", "name": None},
                "parent": {"remote_id": "10000100"}, "serial_number": "SEW-0098123",
                "manufacturer": "SEW-Eurodrive", "model": "R97 DRN132",
                "custom_fields": {"EquipmentCategory": "M", "EquipmentIsAvailable": True, "AssetLocation": "HALL-A",
                                  "CompanyCode": "1010"}}
    record = CONNECTOR.normalize("assets", raw)
    assert record == expected
    record_validate("assets", record)


def test_it_maps_a_maintenance_order():
    raw = {"MaintenanceOrder": "4000000", "MaintenanceOrderType": "PM01",
           "MaintenanceOrderDesc": "Replace mechanical seal on P-101",
           "MaintOrdBasicStartDateTime": "/Date(1795330800000+0000)/",
           "MaintOrdBasicEndDateTime": "/Date(1795352400000+0000)/", "MaintOrdBasicStartDate": "/Date(1795305600000)/",
           "MaintenanceNotification": "100040", "MainWorkCenter": "RES-0100", "MaintenancePlanningPlant": "1010",
           "MaintenancePlant": "1010", "MaintOrdProcessPhaseCode": "02", "Equipment": "10000100",
           "EquipmentName": "Centrifugal pump P-101", "FunctionalLocation": "1010-PLT-A1",
           "MaintenanceActivityType": "002", "MaintPriority": "2",
           "LatestAcceptableCompletionDate": "/Date(1796083200000)/", "MaintOrdPersonResponsible": "",
           "LastChangeDateTime": "/Date(1795150800000+0000)/", "SystemStatusText": "REL  MACM SETC"}
    expected = {"remote_id": "4000000", "number": "4000000", "upstream_status": "REL  MACM SETC",
                "created_at": None, "updated_at": "2026-11-20T05:00:00+00:00",
                "title": "Replace mechanical seal on P-101", "description": None, "status": "open",
                "priority": "high", "type": "corrective",
                "asset": {"remote_id": "10000100", "name": "Centrifugal pump P-101"},
                "location": {"remote_id": "1010-PLT-A1", "name": None}, "assigned_to": None, "assignees": [],
                "site": "1010", "due_date": "2026-12-01", "scheduled_start": "2026-11-22T07:00:00+00:00",
                "scheduled_end": "2026-11-22T13:00:00+00:00", "started_at": None, "completed_at": None,
                "estimated_hours": None, "actual_hours": None, "actual_cost": None, "failure_code": None,
                "parent": None,
                "custom_fields": {"MaintenanceOrderType": "PM01", "MaintPriority": "2", "MainWorkCenter": "RES-0100",
                                  "MaintenanceActivityType": "002", "MaintOrdProcessPhaseCode": "02",
                                  "MaintenanceNotification": "100040"}}
    record = CONNECTOR.normalize("work_orders", raw)
    assert record == expected
    record_validate("work_orders", record)
    teco = CONNECTOR.normalize("work_orders", {**raw, "SystemStatusText": "TECO DLFL", "MaintPriority": ""})
    assert (teco["status"], teco["priority"]) == ("cancelled", "none")


def test_it_reads_sap_error_bodies():
    class Response:
        def __init__(self, body):
            self.body = body

        def json(self):
            if isinstance(self.body, str):
                raise ValueError("not JSON")
            return self.body

    sap = {"error": {"code": "/IWBEP/CM_MGW_RT/022", "message": {"lang": "en", "value": "Invalid filter."}}}
    assert sap_error_message(Response(sap)) == "SAP: Invalid filter. [/IWBEP/CM_MGW_RT/022]"
    apim = {"fault": {"faultstring": "Rate limit quota violation.", "detail": {}}}
    assert sap_error_message(Response(apim)) == "SAP API Management: Rate limit quota violation."
    assert sap_error_message(Response("<html>503</html>")) is None
