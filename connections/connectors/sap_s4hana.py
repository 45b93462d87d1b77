"""SAP S/4HANA through its OData V2 APIs (docs/connectors/sap_s4hana.md).

Reads, with the communication user of a communication arrangement (Basic auth):

- purchase orders: API_PURCHASEORDER_PROCESS_SRV, A_PurchaseOrder with $expand=to_PurchaseOrderItem;
- vendors: API_BUSINESS_PARTNER, A_Supplier;
- assets: API_EQUIPMENT, Equipment;
- work orders: API_MAINTENANCEORDER, MaintenanceOrder.

Changed-since is `$filter=LastChangeDateTime ge datetimeoffset'...'` where the entity set has
that field (a row never changed has it empty and never matches: such rows are read only by full
re-syncs, placed by their CreationDate). Pages follow SAP's server-side paging (`d.__next`, with
`$skiptoken`); the checkpoint is the next link. Dates come as `/Date(ms)/`, decimals as strings.
"""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

from connections.connectors.base import ConfigField, Connector, MappingError, Page, ReadRequest, UpstreamError
from connections.connectors.http import BasicAuth, UpstreamClient, same_host_link
from connections.connectors.parsing import date_out, decimal_number, decimal_string, decimal_sum, iso_out, odata_date

ODATA_ROOT = "/sap/opu/odata/sap"
DEFAULT_REQUESTS_PER_MINUTE = 300

# entity -> (service, entity set, key field, change-time field or None)
RESOURCES = {
    "vendors": ("API_BUSINESS_PARTNER", "A_Supplier", "Supplier", None),
    "assets": ("API_EQUIPMENT", "Equipment", "Equipment", "LastChangeDateTime"),
    "purchase_orders": ("API_PURCHASEORDER_PROCESS_SRV", "A_PurchaseOrder", "PurchaseOrder", "LastChangeDateTime"),
    "work_orders": ("API_MAINTENANCEORDER", "MaintenanceOrder", "MaintenanceOrder", "LastChangeDateTime"),
}

# PurchasingProcessingStatus (EKKO-PROCSTAT, domain MEPROCSTATE) -> the unified status before the
# items' delivery flags refine it. Codes not listed map to "open", upstream_status keeps them.
PROCESSING_STATUS = {
    "01": "draft",             # version in process
    "02": "open",              # active
    "03": "pending_approval",  # in release (approval)
    "04": "pending_approval",  # partially released
    "05": "open",              # release completed: may be sent to the supplier
    "08": "cancelled",         # rejected
}
# Maintenance order system statuses (SystemStatusText), strongest first.
ORDER_STATUS = (("DLFL", "cancelled"), ("CLSD", "completed"), ("TECO", "completed"), ("CNF", "in_progress"),
                ("PCNF", "in_progress"), ("REL", "open"), ("CRTD", "open"))
PRIORITY = {"1": "urgent", "2": "high", "3": "medium", "4": "low"}
ORDER_TYPE = {"PM01": "corrective", "PM02": "preventive", "PM03": "preventive", "PM05": "inspection"}
# ISO 4217 minor units where they are not 2; amounts are rounded to these.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "HUF": 2, "BHD": 3, "KWD": 3, "OMR": 3,
               "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3}


# --- parsing (OData V2 wire values, read with connections/connectors/parsing.py) ------------------


def _moment(value) -> datetime | None:
    """`/Date(ms)/` or `/Date(ms+0000)/` as an aware UTC datetime (the milliseconds are the UTC
    instant in both forms); empty is None."""
    moment = odata_date(value)
    return moment.astimezone(UTC) if moment else None


def _number(value, field: str) -> Decimal | None:
    """A decimal SAP sends as a string, as a Decimal; the field is named when it cannot be read."""
    try:
        return decimal_number(value)
    except MappingError as exc:
        raise MappingError(f"{field}: {exc}") from None


def _money(number: Decimal, currency: str | None) -> Decimal:
    places = MINOR_UNITS.get(currency or "", 2)
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def sap_error_message(response) -> str | None:
    """The message of SAP's error body {"error":{"code","message":{"lang","value"}}}, or of the
    fault body of SAP API Management {"fault":{"faultstring"}}; None for anything else."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        value = message.get("value") if isinstance(message, dict) else message
        if isinstance(value, str) and value.strip():
            code = error.get("code")
            return f"SAP: {value.strip()}" + (f" [{code}]" if isinstance(code, str) and code else "")
    fault = body.get("fault")
    if isinstance(fault, dict) and isinstance(fault.get("faultstring"), str):
        return f"SAP API Management: {fault['faultstring']}"
    return None


# --- the connector ------------------------------------------------------------------------------


class SapS4HanaConnector(Connector):
    key = "sap_s4hana"
    check_entity = "purchase_orders"
    name = "SAP S/4HANA"
    category = "erp"
    description = ("Purchase orders, suppliers, equipment and maintenance orders through SAP S/4HANA's OData V2 "
                   "APIs, with the communication user of a communication arrangement.")
    entities = ("vendors", "assets", "purchase_orders", "work_orders")
    config_fields = (
        ConfigField("base_url", "System URL", "url", required=True,
                    help="The S/4HANA host; /sap/opu/odata/sap/<service> is appended.",
                    example="https://my-s4.example.com"),
        ConfigField("sap_client", "SAP client", "string",
                    help="The client (Mandant), sent as sap-client; empty uses the system's default client.",
                    example="100"),
        ConfigField("requests_per_minute", "Requests per minute", "integer", default=DEFAULT_REQUESTS_PER_MINUTE,
                    min_value=1, max_value=100000,
                    help="Shared by every sync of this connection."),
    )
    credential_fields = (
        ConfigField("username", "Communication user", "string", required=True,
                    help="The user of the communication arrangement.", example="PLANTSYNC_COMM"),
        ConfigField("password", "Password", "password", required=True),
    )

    def __init__(self, *, config: dict, credentials: dict, connection=None):
        super().__init__(config=config, credentials=credentials, connection=connection)
        self._client: UpstreamClient | None = None

    @classmethod
    def prepare_config(cls, config: dict) -> dict:
        return {**config, "base_url": config["base_url"].rstrip("/")}

    @property
    def base_url(self) -> str:
        return self.config["base_url"].rstrip("/")

    @property
    def client(self) -> UpstreamClient:
        if self._client is None:
            password = self.credentials.get("password", "")
            self._client = UpstreamClient(
                base_url=self.base_url, auth=BasicAuth(self.credentials.get("username", ""), password),
                connection_id=getattr(self.connection, "pk", None),
                requests_per_minute=int(self.config.get("requests_per_minute") or DEFAULT_REQUESTS_PER_MINUTE),
                error_message=sap_error_message, secrets=[password])
        return self._client

    # --- reading ----------------------------------------------------------------------------

    def filters_changed_since(self, entity: str) -> bool:
        return RESOURCES[entity][3] is not None

    def probe(self, entity: str) -> None:
        self._get(entity, self._url(entity), {"$top": "1", **self._params(entity, None, top=True)})

    def fetch_page(self, request: ReadRequest) -> Page:
        entity = request.entity
        following = (request.checkpoint or {}).get("next")
        if following:
            url, params = same_host_link(self.base_url, following, system="SAP"), {}
            if self.config.get("sap_client") and "sap-client=" not in urlsplit(url).query:
                params["sap-client"] = self.config["sap_client"]
        else:
            url, params = self._url(entity), self._params(entity, request.since)
        body = self._get(entity, url, params)
        d = body.get("d") if isinstance(body, dict) else None
        if not isinstance(d, dict) or not isinstance(d.get("results"), list):
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE",
                                f"SAP sent no d.results collection for {RESOURCES[entity][1]}.")
        total = None
        if isinstance(d.get("__count"), str) and d["__count"].isdigit():
            total = int(d["__count"])
        following = d.get("__next")
        records = d["results"]
        deleted = [str(r.get(RESOURCES[entity][2])) for r in records
                   if entity == "purchase_orders" and isinstance(r, dict) and r.get("PurchasingDocumentDeletionCode")
                   == "L" and r.get("PurchaseOrder")]
        return Page(records=records, next_checkpoint={"next": following} if following else None,
                    deleted_remote_ids=deleted, total=total)

    def _url(self, entity: str) -> str:
        service, entity_set, _, _ = RESOURCES[entity]
        return f"{self.base_url}{ODATA_ROOT}/{service}/{entity_set}"

    def _params(self, entity: str, since: datetime | None, *, top: bool = False) -> dict:
        _, _, key, changed = RESOURCES[entity]
        params = {"$format": "json"}
        if not top:
            # A stable order (the key), so $skiptoken pages neither skip nor repeat rows.
            params.update({"$orderby": key, "$inlinecount": "allpages"})
        if entity == "purchase_orders":
            params["$expand"] = "to_PurchaseOrderItem"
        if since is not None and changed:
            moment = since.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
            params["$filter"] = f"{changed} ge datetimeoffset'{moment}'"
        if self.config.get("sap_client"):
            params["sap-client"] = self.config["sap_client"]
        return params

    def _get(self, entity: str, url: str, params: dict):
        return self.client.json("GET", url, params=params or None, resource=RESOURCES[entity][1])

    # --- mapping ----------------------------------------------------------------------------

    def remote_id(self, entity: str, raw: dict) -> str:
        value = raw.get(RESOURCES[entity][2]) if isinstance(raw, dict) else None
        if not isinstance(value, str) or not value:
            raise MappingError(f"{entity} record without {RESOURCES[entity][2]}")
        return value

    def normalize(self, entity: str, raw: dict) -> dict:
        try:
            return getattr(self, f"_norm_{entity}")(raw)
        except (KeyError, TypeError, AttributeError) as exc:
            raise MappingError(f"{entity} record {raw.get(RESOURCES[entity][2], '?')}: missing or bad field "
                               f"{exc}") from exc

    @staticmethod
    def _times(raw: dict) -> tuple[str | None, str]:
        """(created_at, updated_at): LastChangeDateTime, else CreationDate (a row never changed)."""
        created = _moment(raw.get("CreationDate"))
        changed = _moment(raw.get("LastChangeDateTime")) or created
        if changed is None:
            raise MappingError("neither LastChangeDateTime nor CreationDate is set")
        return iso_out(created), iso_out(changed)

    def _norm_purchase_orders(self, raw: dict) -> dict:
        created_at, updated_at = self._times(raw)
        currency = _text(raw.get("DocumentCurrency"))
        deleted = raw.get("PurchasingDocumentDeletionCode") == "L"
        items = raw["to_PurchaseOrderItem"]
        if not isinstance(items, dict) or not isinstance(items.get("results"), list):
            raise MappingError("to_PurchaseOrderItem was not expanded")
        lines = [self._po_line(item, currency) for item in items["results"]]
        live = [line for line in lines if line["status"] != "cancelled"]
        subtotal = decimal_sum(line["amount"] for line in live) or Decimal(0)
        code = _text(raw.get("PurchasingProcessingStatus"))
        status = "cancelled" if deleted else PROCESSING_STATUS.get(code or "", "open")
        if status == "open" and live:
            received = [line["status"] in ("received", "closed") for line in live]
            if all(line["status"] == "closed" for line in live):
                status = "closed"
            elif all(received):
                status = "received"
            elif any(received):
                status = "partially_received"
        company = _text(raw.get("CompanyCode"))
        supplier = _text(raw.get("Supplier"))
        record = {
            "remote_id": raw["PurchaseOrder"], "number": raw["PurchaseOrder"], "upstream_status": code,
            "created_at": created_at, "updated_at": updated_at, "status": status,
            "vendor": {"remote_id": supplier, "name": None} if supplier else None,
            "order_date": date_out(odata_date(raw.get("PurchaseOrderDate"))), "required_date": None,
            "currency": currency,
            "subtotal": decimal_string(_money(subtotal, currency)), "tax": None, "total": None,
            "payment_terms": _text(raw.get("PaymentTerms")), "ship_to": None, "bill_to": None,
            "organization": {"code": company, "name": None} if company else None,
            "buyer": _text(raw.get("PurchasingGroup")), "lines": lines,
            "custom_fields": {name: raw.get(name) for name in (
                "PurchaseOrderType", "PurchasingOrganization", "PurchasingDocumentDeletionCode", "CreatedByUser",
                "IncotermsClassification") if raw.get(name) not in (None, "")},
        }
        if deleted:
            record["deleted_at"] = updated_at  # the document's own time of deletion
        return record

    @staticmethod
    def _po_line(item: dict, currency: str | None) -> dict:
        number = item["PurchaseOrderItem"]
        quantity = _number(item.get("OrderQuantity"), f"item {number} OrderQuantity")
        price = _number(item.get("NetPriceAmount"), f"item {number} NetPriceAmount")
        per = _number(item.get("NetPriceQuantity"), f"item {number} NetPriceQuantity") or Decimal(1)
        if per <= 0:
            raise MappingError(f"item {number}: NetPriceQuantity {per} is not positive")
        unit_price = amount = None
        if price is not None:
            unit_price = price if per == 1 else (price / per).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
            amount = _money((quantity or Decimal(0)) * price / per, currency)
        if item.get("PurchasingDocumentDeletionCode") == "L":
            status = "cancelled"
        elif item.get("IsCompletelyDelivered") is True:
            status = "closed" if item.get("IsFinallyInvoiced") is True else "received"
        else:
            status = "open"
        material = _text(item.get("Material"))
        try:
            line_number = int(number)
        except ValueError:
            raise MappingError(f"item number {number!r} is not a number") from None
        return {"line_number": line_number, "item_code": material,
                "item": {"remote_id": None, "code": material} if material else None,
                "description": _text(item.get("PurchaseOrderItemText")),
                "quantity": decimal_string(quantity, trim=True),
                "unit_of_measure": _text(item.get("PurchaseOrderQuantityUnit")),
                "unit_price": decimal_string(unit_price, trim=True), "amount": decimal_string(amount),
                "tax_amount": None, "quantity_received": None, "delivery_date": None, "status": status,
                "account": None}

    def _norm_vendors(self, raw: dict) -> dict:
        created_at, updated_at = self._times(raw)
        blocked = [name for name in ("DeletionIndicator", "PostingIsBlocked", "PurchasingIsBlocked")
                   if raw.get(name) is True]
        return {"remote_id": raw["Supplier"], "number": raw["Supplier"],
                "upstream_status": ",".join(blocked) or None, "created_at": created_at, "updated_at": updated_at,
                "name": _text(raw.get("SupplierName")) or _text(raw.get("SupplierFullName")),
                "code": raw["Supplier"], "email": None, "phone": None, "address": None, "currency": None,
                "status": "inactive" if blocked else "active",
                "tax_id": _text(raw.get("VATRegistration")) or _text(raw.get("TaxNumber1")),
                "custom_fields": {name: raw.get(name) for name in ("SupplierAccountGroup", "SupplierFullName")
                                  if raw.get(name) not in (None, "")}}

    def _norm_assets(self, raw: dict) -> dict:
        created_at, updated_at = self._times(raw)
        deleted = raw.get("EquipmentIsMarkedForDeletion") is True
        location = _text(raw.get("FunctionalLocation"))
        parent = _text(raw.get("SuperordinateEquipment"))
        return {"remote_id": raw["Equipment"], "number": raw["Equipment"],
                "upstream_status": "EquipmentIsMarkedForDeletion" if deleted else None,
                "created_at": created_at, "updated_at": updated_at, "name": _text(raw.get("EquipmentName")),
                "description": None, "status": "decommissioned" if deleted else "operational",
                "site": _text(raw.get("MaintenancePlant")), "category": _text(raw.get("TechnicalObjectType")),
                "location": {"remote_id": location, "name": None} if location else None,
                "parent": {"remote_id": parent} if parent else None,
                "serial_number": _text(raw.get("ManufacturerSerialNumber")),
                "manufacturer": _text(raw.get("AssetManufacturerName")),
                "model": _text(raw.get("ManufacturerPartTypeName")),
                "custom_fields": {name: raw.get(name) for name in (
                    "EquipmentCategory", "EquipmentIsAvailable", "AssetLocation", "CompanyCode")
                    if raw.get(name) not in (None, "")}}

    def _norm_work_orders(self, raw: dict) -> dict:
        _, updated_at = self._times({"CreationDate": raw.get("MaintOrdBasicStartDate"), **raw})
        statuses = set((raw.get("SystemStatusText") or "").split())
        status = next((unified for code, unified in ORDER_STATUS if code in statuses), "open")
        equipment = _text(raw.get("Equipment"))
        location = _text(raw.get("FunctionalLocation"))
        person = _text(raw.get("MaintOrdPersonResponsible"))
        return {"remote_id": raw["MaintenanceOrder"], "number": raw["MaintenanceOrder"],
                "upstream_status": _text(raw.get("SystemStatusText")), "created_at": None, "updated_at": updated_at,
                "title": _text(raw.get("MaintenanceOrderDesc")), "description": None, "status": status,
                "priority": PRIORITY.get(raw.get("MaintPriority") or "", "none" if not raw.get("MaintPriority")
                                         else "medium"),
                "type": ORDER_TYPE.get(raw.get("MaintenanceOrderType") or "", "other"),
                "asset": {"remote_id": equipment, "name": _text(raw.get("EquipmentName"))} if equipment else None,
                "location": {"remote_id": location, "name": None} if location else None,
                "assigned_to": person, "assignees": [person] if person else [],
                "site": _text(raw.get("MaintenancePlant")) or _text(raw.get("MaintenancePlanningPlant")),
                "due_date": date_out(odata_date(raw.get("LatestAcceptableCompletionDate"))),
                "scheduled_start": iso_out(_moment(raw.get("MaintOrdBasicStartDateTime"))),
                "scheduled_end": iso_out(_moment(raw.get("MaintOrdBasicEndDateTime"))),
                "started_at": None, "completed_at": None, "estimated_hours": None, "actual_hours": None,
                "actual_cost": None, "failure_code": None, "parent": None,
                "custom_fields": {name: raw.get(name) for name in (
                    "MaintenanceOrderType", "MaintPriority", "MainWorkCenter", "MaintenanceActivityType",
                    "MaintOrdProcessPhaseCode", "MaintenanceNotification") if raw.get(name) not in (None, "")}}

