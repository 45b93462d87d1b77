"""A loopback simulator of SAP S/4HANA's OData V2 APIs, written from SAP's API reference.

A real HTTP server (http.server on 127.0.0.1), so a connector's real HTTP client runs against it.
It serves, under `/sap/opu/odata/sap/<SERVICE>/<EntitySet>`:

- API_PURCHASEORDER_PROCESS_SRV/A_PurchaseOrder (with `$expand=to_PurchaseOrderItem`) and
  A_PurchaseOrderItem;
- API_BUSINESS_PARTNER/A_Supplier;
- API_EQUIPMENT/Equipment;
- API_MAINTENANCEORDER/MaintenanceOrder.

As SAP documents OData V2: `{"d": {"results": [...]}}` collections whose rows carry
`__metadata`; `$inlinecount=allpages` adds `"__count"` as a string; Edm.DateTime values are
`/Date(ms)/` and Edm.DateTimeOffset `/Date(ms+0000)/`; Edm.Decimal values are strings;
`$filter` (comparisons joined by `and`; a null LastChangeDateTime never matches),
`$orderby`, `$top`, `$skip`, `$select` is ignored; server-side paging returns at most
`page_size` rows and a `d.__next` link carrying `$skiptoken`. Without `$format=json` or an
`Accept: application/json` the answer is an Atom feed, as SAP Gateway's default. Errors use
SAP's body `{"error": {"code", "message": {"lang", "value"}, "innererror"}}`. Basic auth (the
communication user), and `sap-client` (another client than the system's answers 401, as the
logon fails there).

Fault injection (`SapSimulator.inject`): 429 bursts with Retry-After and the JSON fault body of
SAP API Management, and an HTML 503 page as a web dispatcher or proxy sends it. Tests change
data through `SapSimulator.data` (`touch`, `add_purchase_order`, `delete_purchase_order`,
`mark_deleted`).

Run by hand: `python -m tests.upstreams.sap --port 8765` prints the URL and credentials to
enter in the dashboard's connect form.
"""

import argparse
import base64
import copy
import json
import re
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote, urlencode

from tests.upstreams.server import LoopbackHandler, LoopbackSimulator

USERNAME = "PLANTSYNC_COMM"
PASSWORD = "Welcome-S4-2026!"
SAP_CLIENT = "100"
ROOT = "/sap/opu/odata/sap"
NEXT_SAFE = "$',:"  # kept readable in __next links, as SAP Gateway writes them

# Entity sets served: (service, entity set) -> (key field, OData entity type, collection in the dataset)
ENTITY_SETS = {
    ("API_PURCHASEORDER_PROCESS_SRV", "A_PurchaseOrder"): ("PurchaseOrder", "A_PurchaseOrderType", "purchase_orders"),
    ("API_PURCHASEORDER_PROCESS_SRV", "A_PurchaseOrderItem"): (None, "A_PurchaseOrderItemType", "items"),
    ("API_BUSINESS_PARTNER", "A_Supplier"): ("Supplier", "A_SupplierType", "suppliers"),
    ("API_EQUIPMENT", "Equipment"): ("Equipment", "EquipmentType", "equipment"),
    ("API_MAINTENANCEORDER", "MaintenanceOrder"): ("MaintenanceOrder", "MaintenanceOrderType", "maintenance_orders"),
}
# Which fields hold Edm.DateTimeOffset (`/Date(ms+0000)/`) and Edm.DateTime (`/Date(ms)/`) values.
DATETIME_OFFSET_FIELDS = {"LastChangeDateTime", "MaintOrdBasicStartDateTime", "MaintOrdBasicEndDateTime"}
DATE_FIELDS = {"CreationDate", "PurchaseOrderDate", "ValidityStartDate", "ValidityEndDate", "AcquisitionDate",
               "MaintOrdBasicStartDate", "MaintOrdBasicEndDate", "LatestAcceptableCompletionDate",
               "ScheduleLineDeliveryDate"}


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def wire_value(name: str, value):
    """A Python value as SAP's OData V2 JSON writes it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return f"/Date({_ms(value)}+0000)/" if name in DATETIME_OFFSET_FIELDS else f"/Date({_ms(value)})/"
    if isinstance(value, date):
        return f"/Date({_ms(datetime(value.year, value.month, value.day, tzinfo=UTC))})/"
    if isinstance(value, Decimal):
        return str(value)
    return value


def sap_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": {"lang": "en", "value": message},
                      "innererror": {"application": {"component_id": "", "service_namespace": "/SAP/",
                                                     "service_id": "", "service_version": "0001"},
                                     "transactionid": "5E2B6F0C8D1A4B1F9C3E2D7A6B5C4D3E",
                                     "timestamp": datetime.now(UTC).strftime("%Y%m%d%H%M%S.%f")[:21],
                                     "errordetails": []}}}


# --- the dataset -------------------------------------------------------------------------------


class SapData:
    """The simulated system's rows, held as Python values (datetimes, dates, Decimals)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.purchase_orders: dict[str, dict] = {}
        self.suppliers: dict[str, dict] = {}
        self.equipment: dict[str, dict] = {}
        self.maintenance_orders: dict[str, dict] = {}
        self.clock = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """A simulated clock that moves one second per change, so changes are ordered."""
        with self.lock:
            self.clock += timedelta(seconds=1)
            return self.clock

    def rows(self, collection: str) -> list[dict]:
        with self.lock:
            if collection == "items":
                return [copy.deepcopy(i) for po in self.purchase_orders.values() for i in po["to_PurchaseOrderItem"]]
            return [copy.deepcopy(r) for r in getattr(self, collection).values()]

    # Mutations, as a user of the SAP system would make them.

    def add_purchase_order(self, header: dict, items: list[dict]) -> dict:
        with self.lock:
            po = {**header, "to_PurchaseOrderItem": [{"PurchaseOrder": header["PurchaseOrder"], **i} for i in items]}
            self.purchase_orders[header["PurchaseOrder"]] = po
            return po

    def touch(self, purchase_order: str, *, when: datetime | None = None, items: dict | None = None, **fields):
        """Changes a purchase order as a user edit would: fields changed, LastChangeDateTime set."""
        with self.lock:
            po = self.purchase_orders[purchase_order]
            po.update(fields)
            for number, changes in (items or {}).items():
                next(i for i in po["to_PurchaseOrderItem"] if i["PurchaseOrderItem"] == number).update(changes)
            po["LastChangeDateTime"] = when or self.now()
            return po

    def mark_deleted(self, purchase_order: str):
        """Sets the deletion indicator (PurchasingDocumentDeletionCode L) on the document."""
        self.touch(purchase_order, PurchasingDocumentDeletionCode="L")

    def delete_purchase_order(self, purchase_order: str):
        """A hard delete (archived or deleted from the database): the row is gone."""
        with self.lock:
            del self.purchase_orders[purchase_order]


def _po(n: int, *, supplier: str, status: str, created: date, changed: datetime | None, currency: str = "EUR",
        deletion: str = "", company: str = "1010") -> dict:
    return {"PurchaseOrder": f"45000{n:05d}", "CompanyCode": company, "PurchaseOrderType": "NB",
            "PurchasingDocumentDeletionCode": deletion, "PurchasingProcessingStatus": status,
            "CreatedByUser": "CB9980000011", "CreationDate": created, "LastChangeDateTime": changed,
            "Supplier": supplier, "PurchaseOrderSubtype": "", "Language": "EN", "PaymentTerms": "0004",
            "CashDiscount1Days": "14", "CashDiscount2Days": "0", "NetPaymentDays": "30",
            "CashDiscount1Percent": Decimal("2.000"), "CashDiscount2Percent": Decimal("0.000"),
            "PurchasingOrganization": "1010", "PurchasingDocumentOrigin": "9", "PurchasingGroup": "001",
            "PurchaseOrderDate": created, "DocumentCurrency": currency, "ExchangeRate": Decimal("1.00000"),
            "ExchangeRateIsFixed": False, "ValidityStartDate": None, "ValidityEndDate": None,
            "SupplierRespSalesPersonName": "", "SupplierPhoneNumber": "", "SupplyingSupplier": "",
            "SupplyingPlant": "", "IncotermsClassification": "EXW", "InvoicingParty": supplier,
            "ReleaseIsNotCompleted": status in ("03", "04"), "PurchasingCompletenessStatus": False,
            "IncotermsVersion": "", "IncotermsLocation1": "", "IncotermsLocation2": "", "ManualSupplierAddressID": "",
            "IsEndOfPurposeBlocked": "", "AddressCityName": "", "AddressFaxNumber": "", "AddressHouseNumber": "",
            "AddressName": "", "AddressPostalCode": "", "AddressStreetName": "", "AddressPhoneNumber": "",
            "AddressRegion": "", "AddressCountry": "", "AddressCorrespondenceLanguage": ""}


def _item(number: int, *, material: str, text: str, qty: str, unit: str, price: str, per: str = "1",
          currency: str = "EUR", delivered: bool = False, invoiced: bool = False, deletion: str = "",
          plant: str = "1010") -> dict:
    return {"PurchaseOrderItem": str(number), "PurchasingDocumentDeletionCode": deletion,
            "PurchaseOrderItemText": text, "Plant": plant, "StorageLocation": "101A", "MaterialGroup": "L001",
            "PurchasingInfoRecord": "", "SupplierMaterialNumber": "", "OrderQuantity": Decimal(qty),
            "PurchaseOrderQuantityUnit": unit, "OrderPriceUnit": unit,
            "OrderPriceUnitToOrderUnitNmrtr": Decimal("1"), "OrdPriceUnitToOrderUnitDnmntr": Decimal("1"),
            "DocumentCurrency": currency, "NetPriceAmount": Decimal(price), "NetPriceQuantity": Decimal(per),
            "TaxCode": "V1", "PriceIsToBePrinted": True, "OverdelivTolrtdLmtRatioInPct": Decimal("0.0"),
            "UnlimitedOverdeliveryIsAllowed": False, "UnderdelivTolrtdLmtRatioInPct": Decimal("0.0"),
            "IsCompletelyDelivered": delivered, "IsFinallyInvoiced": invoiced, "PurchaseOrderItemCategory": "0",
            "AccountAssignmentCategory": "", "MultipleAcctAssgmtDistribution": "", "GoodsReceiptIsExpected": True,
            "GoodsReceiptIsNonValuated": False, "InvoiceIsExpected": True, "InvoiceIsGoodsReceiptBased": True,
            "Material": material, "ManufacturerMaterial": "", "MaterialType": "HAWA",
            "PurchaseOrderItemUniqueID": "", "IsReturnsItem": False}


ITEM_TEXTS = (("TG11", "Ball bearing 6204-2RS", "EA", "4.35"), ("TG12", "Hydraulic oil ISO VG 46", "L", "3.10"),
              ("TG13", "Mechanical seal 35 mm", "EA", "148.00"), ("TG14", "V-belt SPA 1250", "EA", "12.90"),
              ("TG15", "Grease cartridge 400 g", "EA", "7.45"), ("TG16", "Gasket kit DN50", "KIT", "39.99"))
STATUSES = ("01", "02", "03", "05", "05", "05", "08", "02")


def seed(data: SapData, *, purchase_orders: int = 24) -> SapData:
    """A fixed dataset: purchase orders in every processing status, some with deletion code L, some
    never changed (empty LastChangeDateTime), prices per 1 and per 100; suppliers, equipment and
    maintenance orders."""
    base = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    suppliers = ("17300001", "17300002", "17300003", "17300004")
    for n in range(1, purchase_orders + 1):
        created = (base + timedelta(days=n % 20)).date()
        changed = None if n % 7 == 3 else base + timedelta(days=n % 20, hours=n)
        items = []
        for k in range(n % 3 + 1):
            material, text, unit, price = ITEM_TEXTS[(n + k) % len(ITEM_TEXTS)]
            per = "100" if (n + k) % 5 == 0 else "1"  # a price per 100 units
            price = str(Decimal(price) * 100) if per == "100" else price
            items.append(_item((k + 1) * 10, material=material, text=text, qty=str((n * 7 + k * 3) % 40 + 1),
                               unit=unit, price=price, per=per, delivered=n % 6 == 0 or (n % 6 == 1 and k == 0),
                               invoiced=n % 12 == 0, deletion="L" if n % 9 == 4 and k == 1 else ""))
        header = _po(n, supplier=suppliers[n % 4], status=STATUSES[n % len(STATUSES)], created=created,
                     changed=changed, currency="USD" if n % 5 == 2 else "EUR",
                     deletion="L" if n % 10 == 8 else "")
        data.add_purchase_order(header, items)
    for i, (name, _city, country, blocked) in enumerate((
            ("Bearing Supply GmbH", "Hamburg", "DE", False), ("Allied Hydraulics Inc.", "Houston", "US", False),
            ("Nordic Seals AB", "Gothenburg", "SE", True), ("Lyon Belts S.A.", "Lyon", "FR", False))):
        code = suppliers[i]
        data.suppliers[code] = {
            "Supplier": code, "AlternativePayeeAccountNumber": "", "AuthorizationGroup": "",
            "CreatedByUser": "CB9980000011", "CreationDate": date(2025, 3, i + 1), "Customer": "",
            "PaymentIsBlockedForSupplier": False, "PostingIsBlocked": blocked, "PurchasingIsBlocked": blocked,
            "SupplierAccountGroup": "SUPL", "SupplierFullName": name, "SupplierName": name,
            "VATRegistration": f"{country}{812345670 + i}", "BirthDate": None,
            "ConcatenatedInternationalLocNo": "", "DeletionIndicator": False, "FiscalAddress": "", "Industry": "",
            "InternationalLocationNumber1": "", "InternationalLocationNumber2": "",
            "InternationalLocationNumber3": "", "IsNaturalPerson": "", "ResponsibleType": "",
            "SuplrQltyInProcmtCertfnValidTo": None, "SuplrQualityManagementSystem": "", "SupplierCorporateGroup": "",
            "SupplierProcurementBlock": "", "TaxNumber1": "", "TaxNumber2": "", "TaxNumber3": "", "TaxNumber4": "",
            "TaxNumber5": "", "TaxNumberResponsible": "", "TaxNumberType": "", "SuplrProofOfDelivRlvtCode": "",
            "BR_TaxIsSplit": False, "DataExchangeInstructionKey": ""}
    for i, (name, kind, maker, model, serial, down, deleted) in enumerate((
            ("Centrifugal pump P-101", "PUMP", "Grundfos", "NB 65-200", "GF-7731-0042", False, False),
            ("Air compressor C-201", "COMPRESSOR", "Atlas Copco", "GA 37 VSD+", "AII-556102", True, False),
            ("Conveyor drive CV-301", "GEARBOX", "SEW-Eurodrive", "R97 DRN132", "SEW-0098123", False, True))):
        number = f"{10000100 + i}"
        data.equipment[number] = {
            "Equipment": number, "ValidityEndDate": date(9999, 12, 31), "ValidityEndTime": "PT23H59M59S",
            "ValidityStartDate": date(2024, 1, 15), "EquipmentName": name, "EquipmentCategory": "M",
            "TechnicalObjectType": kind, "GrossWeight": Decimal("120.000"), "GrossWeightUnit": "KG",
            "SizeOrDimensionText": "", "InventoryNumber": "", "OperationStartDate": date(2024, 2, 1),
            "AcquisitionValue": Decimal("18500.00"), "Currency": "EUR", "AcquisitionDate": date(2024, 1, 10),
            "AssetManufacturerName": maker, "ManufacturerPartTypeName": model, "ManufacturerCountry": "DE",
            "ConstructionYear": "2023", "ConstructionMonth": "11", "ManufacturerPartNmbr": "",
            "ManufacturerSerialNumber": serial, "MaintenancePlant": "1010", "AssetLocation": "HALL-A",
            "AssetRoom": "", "PlantSection": "", "WorkCenter": "RES-0100", "WorkCenterPlant": "1010",
            "CompanyCode": "1010", "BusinessArea": "", "MasterFixedAsset": "", "FixedAsset": "", "CostCenter": "",
            "MaintenancePlanningPlant": "1010", "MaintenancePlannerGroup": "010", "MainWorkCenter": "RES-0100",
            "MainWorkCenterPlant": "1010", "CatalogProfile": "", "FunctionalLocation": f"1010-PLT-A{i + 1}",
            "SuperordinateEquipment": "10000100" if i == 2 else "", "EquipInstallationPositionNmbr": "",
            "TechnicalObjectSortCode": "", "ConstructionMaterial": "", "Material": "", "EquipmentIsAvailable": not down,
            "EquipmentIsInstalled": True, "EquipIsAllocToSuperiorEquip": i == 2,
            "EquipHasSubOrdinateEquipment": "X" if i == 0 else "", "CreationDate": date(2024, 1, 15),
            "LastChangeDateTime": datetime(2026, 11, 20 + i, 9, 30, tzinfo=UTC),
            "EquipmentIsMarkedForDeletion": deleted, "MaintObjectInternalID": f"IE0000000{number}"}
    for i, (desc, kind, prio, status, equipment, phase) in enumerate((
            ("Replace mechanical seal on P-101", "PM01", "2", "REL  MACM SETC", "10000100", "02"),
            ("Annual inspection compressor C-201", "PM02", "3", "CRTD MANC NMAT", "10000101", "01"),
            ("Gearbox oil change CV-301", "PM02", "4", "TECO", "10000102", "05"))):
        number = f"{4000000 + i}"
        start = datetime(2026, 11, 24 + i, 7, 0, tzinfo=UTC)
        data.maintenance_orders[number] = {
            "MaintenanceOrder": number, "MaintOrderRoutingNumber": f"100000{i}", "MaintenanceOrderType": kind,
            "MaintenanceOrderDesc": desc, "MaintOrdBasicStartDateTime": start,
            "MaintOrdBasicEndDateTime": start + timedelta(hours=6), "MaintOrdBasicStartDate": start.date(),
            "MaintOrdBasicEndDate": start.date(), "MaintenanceNotification": f"1000{i + 40}",
            "MainWorkCenter": "RES-0100", "MainWorkCenterPlant": "1010", "MaintenancePlanningPlant": "1010",
            "MaintenancePlant": "1010", "MaintOrdProcessPhaseCode": phase, "BusinessArea": "",
            "CompanyCode": "1010", "CostCenter": "", "Equipment": equipment,
            "EquipmentName": data.equipment[equipment]["EquipmentName"], "FunctionalLocation": f"1010-PLT-A{i + 1}",
            "MaintenancePlannerGroup": "010", "MaintenanceActivityType": "001" if kind == "PM02" else "002",
            "MaintPriority": prio, "MaintPriorityType": "PM", "ResponsibleCostCenter": "10101301",
            "LatestAcceptableCompletionDate": (start + timedelta(days=7)).date(),
            "MaintOrdPersonResponsible": "", "LastChangeDateTime": start - timedelta(days=2),
            "SystemStatusText": status, "UserStatusText": "", "TechnicalObject": equipment,
            "TechObjIsEquipOrFuncnlLoc": "EAMS_EQUI"}
    return data


# --- query evaluation --------------------------------------------------------------------------


class ODataError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_COMPARISON = re.compile(r"^\s*(\w+)\s+(eq|ne|ge|gt|le|lt)\s+(datetimeoffset'([^']*)'|datetime'([^']*)'|'([^']*)'"
                         r"|(true|false|null)|(-?\d+(?:\.\d+)?))\s*$")


def _literal(match) -> object:
    offset, plain, text, keyword, number = match.group(4, 5, 6, 7, 8)
    if offset is not None:
        return datetime.fromisoformat(offset.replace("Z", "+00:00"))
    if plain is not None:
        value = datetime.fromisoformat(plain)
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if text is not None:
        return text
    if keyword is not None:
        return {"true": True, "false": False, "null": None}[keyword]
    return Decimal(number)


def _comparable(value):
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


def row_filter(expression: str):
    """A predicate for the `$filter` subset a connector uses: comparisons joined by `and`. A
    comparison with a null value is false, as in SAP Gateway (so a row never changed does not
    match `LastChangeDateTime ge ...`)."""
    terms = []
    for part in re.split(r"\s+and\s+", expression.strip()):
        match = _COMPARISON.match(part)
        if not match:
            raise ODataError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid filter expression: '{expression}'.")
        terms.append((match.group(1), match.group(2), _literal(match)))

    def matches(row: dict) -> bool:
        for field, op, literal in terms:
            if field not in row:
                raise ODataError(400, "/IWBEP/CM_MGW_RT/022", f"Property '{field}' not found.")
            value = row[field]
            if value is None or value == "":
                if op == "eq" and literal is None:
                    continue
                return False
            value, literal_value = _comparable(value), _comparable(literal)
            try:
                ok = {"eq": value == literal_value, "ne": value != literal_value}.get(op)
                if ok is None:
                    ok = {"ge": value >= literal_value, "gt": value > literal_value, "le": value <= literal_value,
                          "lt": value < literal_value}[op]
            except TypeError:
                raise ODataError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid filter expression: '{expression}'.") from None
            if not ok:
                return False
        return True

    return matches


def _sorted(rows: list[dict], orderby: str, key_field: str | None) -> list[dict]:
    specs = [part.split() for part in orderby.split(",") if part.strip()] if orderby else []
    if not specs:  # SAP Gateway returns rows in key order
        specs = [[key_field]] if key_field else [["PurchaseOrder"], ["PurchaseOrderItem"]]
    for spec in reversed(specs):
        field, direction = spec[0], (spec[1] if len(spec) > 1 else "asc")
        if rows and field not in rows[0]:
            raise ODataError(400, "/IWBEP/CM_MGW_RT/021", f"Property '{field}' not found in $orderby.")
        rows.sort(key=lambda r: (r[field] is not None and r[field] != "", _comparable(r[field]) or ""),
                  reverse=direction == "desc")
    return rows


# --- the server ----------------------------------------------------------------------------------


class _Handler(LoopbackHandler):
    sim: "SapSimulator"
    server_version = "SAP NetWeaver Application Server"

    def do_GET(self):
        parts, query = self._parse()
        record = {"method": "GET", "path": parts.path, "query": query, "status": None}
        self.sim.requests.append(record)
        try:
            status, headers, body = self._answer(parts.path, query)
        except ODataError as exc:
            status, headers, body = exc.status, {"Content-Type": "application/json"}, sap_error(exc.code, exc.message)
        record["status"] = status
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self._send(status, headers, payload)

    def _answer(self, path: str, query: dict):
        sim = self.sim
        if not self._authorized(query):
            return (401, {"Content-Type": "application/json",
                          "WWW-Authenticate": f'Basic realm="SAP NetWeaver Application Server [S4H/{sim.sap_client}]"'},
                    sap_error("/IWFND/CM_CONSUMER/101", "Logon failed: user or password is not valid."))
        fault = sim._next_fault()
        if fault and fault["kind"] == "rate_limit":
            return (429, {"Content-Type": "application/json", "Retry-After": str(fault["retry_after"])},
                    {"fault": {"faultstring": "Rate limit quota violation. Quota limit exceeded.",
                               "detail": {"errorcode": "policies.ratelimit.QuotaViolation"}}})
        if fault and fault["kind"] == "html_503":
            return (503, {"Content-Type": "text/html; charset=utf-8"},
                    b"<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1>"
                    b"<p>SAP Web Dispatcher: no server for this request is available.</p></body></html>")
        match = re.fullmatch(re.escape(ROOT) + r"/(\w+)/(\w+)", path)
        if not match or not any(service == match.group(1) for service, _ in ENTITY_SETS):
            name = match.group(1) if match else path
            raise ODataError(404, "/IWFND/MED/170", f"No service found for namespace '', name '{name}', "
                                                    "version '0001'")
        if (match.group(1), match.group(2)) not in ENTITY_SETS:
            raise ODataError(404, "/IWBEP/CM_MGW_RT/020", f"Resource not found for segment '{match.group(2)}'.")
        service, entity_set = match.groups()
        key_field, entity_type, collection = ENTITY_SETS[(service, entity_set)]
        rows = sim.data.rows(collection)
        if "$filter" in query:
            keep = row_filter(query["$filter"])
            rows = [r for r in rows if keep(r)]
        rows = _sorted(rows, query.get("$orderby", ""), key_field)
        count = len(rows)
        try:
            skip = int(query.get("$skip", 0))
            top = int(query["$top"]) if "$top" in query else None
            skiptoken = int(query.get("$skiptoken", 0))
        except ValueError:
            raise ODataError(400, "/IWBEP/CM_MGW_RT/004", "Invalid system query option value.") from None
        window = rows[skip:] if top is None else rows[skip:skip + top]
        page = window[skiptoken:skiptoken + sim.page_size]
        expand = {e.strip() for e in query.get("$expand", "").split(",") if e.strip()}
        base = sim.service_url(service)
        results = [self._entity(base, service, entity_set, entity_type, key_field, row, expand) for row in page]
        wants_json = query.get("$format") == "json" or "application/json" in self.headers.get("Accept", "")
        if not wants_json:  # SAP Gateway answers Atom unless asked for JSON
            atom = (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
                    f'xml:base="{base}/"><id>{base}/{entity_set}</id><title type="text">{entity_set}</title>'
                    f"</feed>").encode()
            return 200, {"Content-Type": "application/atom+xml;type=feed; charset=utf-8"}, atom
        d = {"results": results}
        if query.get("$inlinecount") == "allpages":
            d["__count"] = str(count)
        if skiptoken + sim.page_size < len(window):
            following = {k: v for k, v in query.items() if k != "$skiptoken"}
            following["$skiptoken"] = str(skiptoken + sim.page_size)
            d["__next"] = f"{base}/{entity_set}?{urlencode(following, quote_via=quote, safe=NEXT_SAFE)}"
        return 200, {"Content-Type": "application/json; charset=utf-8", "dataserviceversion": "2.0",
                     "sap-metadata-last-modified": "Mon, 02 Nov 2026 10:00:00 GMT"}, {"d": d}

    def _authorized(self, query: dict) -> bool:
        sim = self.sim
        if query.get("sap-client", sim.sap_client) != sim.sap_client:
            return False
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == sim.username and password == sim.password

    def _entity(self, base, service, entity_set, entity_type, key_field, row, expand) -> dict:
        if entity_set == "A_PurchaseOrderItem":
            key = f"PurchaseOrder='{row['PurchaseOrder']}',PurchaseOrderItem='{row['PurchaseOrderItem']}'"
        elif entity_set == "Equipment":
            key = f"Equipment='{row['Equipment']}',ValidityEndDate=datetime'9999-12-31T00:00:00'"
        else:
            key = f"'{row[key_field]}'"
        uri = f"{base}/{entity_set}({key})"
        entity = {"__metadata": {"id": uri, "uri": uri, "type": f"{service}.{entity_type}"}}
        for name, value in row.items():
            if name == "to_PurchaseOrderItem":
                if name in expand:
                    entity[name] = {"results": [self._entity(base, service, "A_PurchaseOrderItem",
                                                             "A_PurchaseOrderItemType", None, item, set())
                                                for item in value]}
                else:
                    entity[name] = {"__deferred": {"uri": f"{uri}/to_PurchaseOrderItem"}}
                continue
            entity[name] = wire_value(name, value)
        if entity_set == "A_PurchaseOrderItem":
            for nav in ("to_AccountAssignment", "to_PurchaseOrderPricingElement", "to_ScheduleLine"):
                entity[nav] = {"__deferred": {"uri": f"{uri}/{nav}"}}
        return entity


class SapSimulator(LoopbackSimulator):
    """The server and its data. `start()` binds a free loopback port; `stop()` shuts it down."""

    handler_class = _Handler
    thread_name = "sap-simulator"
    # rate_limit: 429 with Retry-After and API Management's JSON fault; html_503: a web dispatcher's HTML page
    fault_kinds = ("rate_limit", "html_503")

    def __init__(self, *, data: SapData | None = None, page_size: int = 1000, username: str = USERNAME,
                 password: str = PASSWORD, sap_client: str = SAP_CLIENT):
        super().__init__()
        self.data = data or seed(SapData())
        self.page_size = page_size
        self.username, self.password, self.sap_client = username, password, sap_client

    def service_url(self, service: str) -> str:
        return f"{self.url}{ROOT}/{service}"


def main(argv=None):
    parser = argparse.ArgumentParser(description="A loopback SAP S/4HANA OData V2 simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--page-size", type=int, default=10, help="server-side page size (d.__next)")
    parser.add_argument("--purchase-orders", type=int, default=24)
    args = parser.parse_args(argv)
    sim = SapSimulator(data=seed(SapData(), purchase_orders=args.purchase_orders), page_size=args.page_size)
    sim.start(args.host, args.port)
    print(f"SAP S/4HANA simulator at {sim.url}", flush=True)
    print(f"  connector sap_s4hana: base_url={sim.url} sap_client={sim.sap_client}", flush=True)
    print(f"  credentials: username={sim.username} password={sim.password}", flush=True)
    print(f"  e.g. {sim.service_url('API_PURCHASEORDER_PROCESS_SRV')}/A_PurchaseOrder?$format=json&$top=2", flush=True)
    sim.serve_until_interrupted()


if __name__ == "__main__":
    main()
