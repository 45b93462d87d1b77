"""A loopback simulator of Microsoft Dynamics 365 Business Central's API v2.0 and of the Microsoft
identity platform's token endpoint, written from Microsoft's documentation.

A real HTTP server (http.server on 127.0.0.1), so a connector's real HTTP client runs against it.
Both sides live on one server:

- `POST /{tenant}/oauth2/v2.0/token`: the client credentials grant (form fields `grant_type`,
  `client_id`, `client_secret`, `scope`), answering `{token_type, expires_in, ext_expires_in,
  access_token}`; errors as the identity platform writes them, `{error, error_description,
  error_codes, timestamp, trace_id, correlation_id, error_uri}` (a wrong secret is 401
  `invalid_client`, AADSTS7000215).
- `GET /v2.0/{tenant}/{environment}/api/v2.0/companies` and
  `.../companies({id})/{purchaseOrders|vendors|items|locations}`, with `$expand=purchaseOrderLines`
  on purchase orders.

As Business Central answers: `{"@odata.context", "value": [...]}` collections, rows with
`@odata.etag`; `$filter` comparisons joined by `and` (a datetime literal is unquoted: a quoted one
is a 400 type error), `$top`, and server paging by `@odata.nextLink` carrying a `$skiptoken` of
the last key (rows are in primary-key order; `Prefer: odata.maxpagesize=N` lowers the page size).
On the wire: enum members XML-encoded (`In_x0020_Review`, `_x0020_` for a blank member,
`Non_x002D_Inventory`), an empty GUID as the zero GUID, an empty date as `0001-01-01`, datetimes
trimmed to SQL precision (`2026-11-20T08:05:00.09Z`), decimals as JSON numbers. A line change
bumps its order's `lastModifiedDateTime`. Errors use `{"error": {"code", "message"}}`; a token
that is unknown or expired is 401 `Authentication_InvalidCredentials`.

Tokens: `token_lifetime` seconds (reported as expires_in and enforced), and `token_requests`, the
number of API requests a token serves before it expires (so a token expires mid-run without a
test waiting); `expire_tokens()` expires every token now.

Fault injection (`BusinessCentralSimulator.inject`): 429 with Retry-After, and 504 as a request
past Business Central's time limit answers. Tests change data through `BusinessCentralSimulator.data`
(`touch`, `change_line`, `add`, `add_purchase_order`, `delete`).

Run by hand: `python -m tests.upstreams.business_central --port 8766` prints what to enter in the
dashboard's connect form.
"""

import argparse
import copy
import json
import re
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from tests.upstreams.server import LoopbackHandler, LoopbackSimulator

TENANT_ID = "7f3c5a9e-2b41-4d8a-9c6e-1a2b3c4d5e6f"
ENVIRONMENT = "production"
CLIENT_ID = "3e2a1f0c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
CLIENT_SECRET = "Qx8~bc.SimulatorSecret_2026-nov"
SCOPE = "https://api.businesscentral.dynamics.com/.default"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01"
COMPANY_ID = "c1a2b3c4-0001-4000-8000-00000000c0de"
OTHER_COMPANY_ID = "c1a2b3c4-0002-4000-8000-00000000c0de"

# entity set -> (primary key field, the dataset's collection)
ENTITY_SETS = {"purchaseOrders": "number", "vendors": "number", "items": "number", "locations": "code"}
# Enum-typed fields (their members are XML-encoded on the wire).
ENUM_FIELDS = {"status", "blocked", "type", "lineType"}
DATETIME_FIELDS = {"lastModifiedDateTime"}
DATE_FIELDS = {"orderDate", "postingDate", "requestedReceiptDate", "expectedReceiptDate"}
GUID_FIELDS = {"vendorId", "payToVendorId", "currencyId", "paymentTermsId", "shipmentMethodId", "itemId", "accountId",
               "unitOfMeasureId", "itemVariantId", "locationId", "itemCategoryId", "taxGroupId",
               "baseUnitOfMeasureId", "generalProductPostingGroupId", "inventoryPostingGroupId", "paymentMethodId"}


def xml_encode(value: str) -> str:
    """An enum member's name as Business Central's OData writes it: characters that are not
    allowed in an XML name become _xHHHH_ (" " -> _x0020_, "-" -> _x002D_)."""
    return "".join(ch if ch.isalnum() or ch == "_" else f"_x{ord(ch):04X}_" for ch in value)


def wire_datetime(value: datetime) -> str:
    """SQL datetime precision, trailing zeros trimmed: .090 -> .09, .000 -> nothing."""
    value = value.astimezone(UTC)
    millis = value.microsecond // 1000
    fraction = f".{millis:03d}".rstrip("0") if millis else ""
    return value.strftime("%Y-%m-%dT%H:%M:%S") + fraction.rstrip(".") + "Z"


def wire_value(name: str, value):
    if name in ENUM_FIELDS and isinstance(value, str):
        return xml_encode(value)
    if name in DATETIME_FIELDS:
        return wire_datetime(value) if value else "0001-01-01T00:00:00Z"
    if name in DATE_FIELDS:
        return value.isoformat() if value else EMPTY_DATE
    if name in GUID_FIELDS:
        return value or ZERO_GUID
    return value


def bc_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": f"{message}  CorrelationId:  {uuid.uuid4()}."}}


class BcError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


# --- the dataset -------------------------------------------------------------------------------


class BcData:
    """One environment's companies and their rows, held as Python values."""

    def __init__(self):
        self.lock = threading.RLock()
        self.companies: dict[str, dict] = {}
        self.rows: dict[str, dict[str, dict[str, dict]]] = {}  # company id -> entity set -> key -> row
        self.clock = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
        self._tick = 0

    def now(self) -> datetime:
        """A simulated clock moving five minutes per change (more than the engine's overlap), at SQL
        precision (.09, .18 ...)."""
        with self.lock:
            self._tick += 1
            self.clock += timedelta(minutes=5, milliseconds=90)
            return self.clock

    def add_company(self, company_id: str, name: str, display_name: str) -> None:
        with self.lock:
            self.companies[company_id] = {"id": company_id, "systemVersion": "27.1.41698.42725", "timestamp": 41698,
                                          "name": name, "displayName": display_name, "businessProfileId": "",
                                          "systemCreatedAt": "2025-02-03T09:10:11.55Z", "systemCreatedBy": ZERO_GUID,
                                          "systemModifiedAt": "2025-02-03T09:10:11.55Z",
                                          "systemModifiedBy": ZERO_GUID}
            self.rows[company_id] = {name: {} for name in ENTITY_SETS}

    def collection(self, company_id: str, entity_set: str) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(r) for r in self.rows[company_id][entity_set].values()]

    # Mutations, as a user of Business Central would make them.

    def add(self, entity_set: str, row: dict, *, company_id: str = COMPANY_ID) -> dict:
        with self.lock:
            row = {"id": str(uuid.uuid4()), **row}
            row.setdefault("lastModifiedDateTime", self.now())
            self.rows[company_id][entity_set][row[ENTITY_SETS[entity_set]]] = row
            return row

    def add_purchase_order(self, header: dict, lines: list[dict], *, company_id: str = COMPANY_ID) -> dict:
        with self.lock:
            order = self.add("purchaseOrders", {**header, "purchaseOrderLines": []}, company_id=company_id)
            for n, line in enumerate(lines, start=1):
                order["purchaseOrderLines"].append({"id": str(uuid.uuid4()), "documentId": order["id"],
                                                    "sequence": n * 10000, **line})
            _totals(order)
            return order

    def touch(self, entity_set: str, key: str, *, company_id: str = COMPANY_ID, **fields) -> dict:
        with self.lock:
            row = self.rows[company_id][entity_set][key]
            row.update(fields)
            if entity_set == "purchaseOrders":
                _totals(row)
            row["lastModifiedDateTime"] = self.now()
            return row

    def change_line(self, number: str, sequence: int, *, company_id: str = COMPANY_ID, **fields) -> dict:
        """Changes one line of an order; as in Business Central, the order's lastModifiedDateTime moves."""
        with self.lock:
            order = self.rows[company_id]["purchaseOrders"][number]
            next(line for line in order["purchaseOrderLines"] if line["sequence"] == sequence).update(fields)
            return self.touch("purchaseOrders", number, company_id=company_id)

    def delete(self, entity_set: str, key: str, *, company_id: str = COMPANY_ID) -> None:
        """Deleted, or (for an order) posted and gone: the row is no longer in the set."""
        with self.lock:
            del self.rows[company_id][entity_set][key]


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _totals(order: dict) -> None:
    """The order's read-only amounts, worked out from its lines as Business Central does."""
    net = tax = Decimal(0)
    for line in order["purchaseOrderLines"]:
        amount = _money(Decimal(str(line.get("quantity", 0))) * Decimal(str(line.get("directUnitCost", 0))))
        line_tax = _money(amount * Decimal(str(line.get("taxPercent", 0))) / 100)
        line.update(amountExcludingTax=amount, totalTaxAmount=line_tax, amountIncludingTax=amount + line_tax,
                    netAmount=amount, netTaxAmount=line_tax, netAmountIncludingTax=amount + line_tax)
        net, tax = net + amount, tax + line_tax
    order.update(totalAmountExcludingTax=net, totalTaxAmount=tax, totalAmountIncludingTax=net + tax,
                 fullyReceived=bool(order["purchaseOrderLines"]) and all(
                     Decimal(str(line.get("receivedQuantity", 0))) >= Decimal(str(line.get("quantity", 0)))
                     for line in order["purchaseOrderLines"] if line["lineType"] != "Comment"))


VENDORS = (("10000", "Fabrikam, Inc.", "Atlanta", "GA", "US", "USD", " "),
           ("20000", "First Up Consultants", "Chicago", "IL", "US", "", " "),
           ("30000", "Graphic Design Institute", "Miami", "FL", "US", "", "Payment"),
           ("40000", "Wide World Importers", "Toronto", "ON", "CA", "CAD", " "),
           ("50000", "Nod Publishers", "Seattle", "WA", "US", "", "All"))
ITEMS = (("1896-S", "ATHENS Desk", "Inventory", "PCS", "506.6", "4"), ("1900-S", "PARIS Guest Chair, black",
                                                                        "Inventory", "PCS", "99.5", "0"),
         ("70000", "Side Panel", "Inventory", "PCS", "12.9", "312"),
         ("70040", "Hinges, Set", "Inventory", "SET", "4.35", "1200.5"),
         ("80100", "Printing Paper", "Non-Inventory", "BOX", "7.45", "0"),
         ("SRV-ML", "Machine maintenance", "Service", "HOUR", "65", "0"))
LOCATIONS = (("EAST", "East Warehouse", "Atlanta", "GA"), ("MAIN", "Main Warehouse", "Chicago", "IL"),
             ("OUT. LOG.", "Outsourced Logistics", "Dallas", "TX"), ("WEST", "West Warehouse", "Seattle", "WA"))
STATUSES = ("Draft", "Open", "In Review", "Open", "Open")


def seed(data: BcData, *, purchase_orders: int = 18) -> BcData:
    """A fixed dataset in the company CRONUS USA, Inc.: vendors (blank, Payment and All blocked),
    items of each type, locations, and purchase orders in each status with item, account, comment
    and fixed asset lines, some partly or fully received, some in a foreign currency, some with
    empty dates. A second company, My Company, holds one vendor."""
    data.add_company(COMPANY_ID, "CRONUS USA, Inc.", "CRONUS USA, Inc.")
    data.add_company(OTHER_COMPANY_ID, "My Company", "My Company")
    vendor_ids = {}
    for number, name, city, state, country, currency, blocked in VENDORS:
        row = data.add("vendors", {
            "number": number, "displayName": name, "addressLine1": f"{int(number) // 100} Main Street",
            "addressLine2": "", "city": city, "state": state, "country": country, "postalCode": "30301",
            "phoneNumber": "+1 425 555 0100", "email": f"orders@{name.split()[0].strip(',').lower()}.example.com",
            "website": "", "taxRegistrationNumber": f"TX-{number}" if number != "50000" else "",
            "currencyId": str(uuid.uuid5(uuid.NAMESPACE_OID, currency)) if currency else "",
            "currencyCode": currency, "irs1099Code": "", "paymentTermsId": str(uuid.uuid5(uuid.NAMESPACE_OID, "30D")),
            "paymentMethodId": "", "taxLiable": False, "blocked": blocked, "balance": Decimal("0")})
        vendor_ids[number] = row
    data.add("vendors", {"number": "V-900", "displayName": "Other company's vendor", "blocked": " ", "country": "US",
                         "currencyCode": "", "balance": Decimal("0")}, company_id=OTHER_COMPANY_ID)
    items = {}
    for number, name, kind, unit, cost, inventory in ITEMS:
        items[number] = data.add("items", {
            "number": number, "displayName": name, "type": kind, "itemCategoryId": "", "itemCategoryCode": "",
            "blocked": number == "1900-S", "gtin": "", "inventory": Decimal(inventory),
            "unitPrice": _money(Decimal(cost) * Decimal("1.4")), "priceIncludesTax": False, "unitCost": Decimal(cost),
            "taxGroupId": "", "taxGroupCode": "FURNITURE" if kind == "Inventory" else "", "baseUnitOfMeasureId": "",
            "baseUnitOfMeasureCode": unit, "generalProductPostingGroupId": "",
            "generalProductPostingGroupCode": "RETAIL",
            "inventoryPostingGroupId": "", "inventoryPostingGroupCode": "RESALE" if kind == "Inventory" else ""})
    for code, name, city, state in LOCATIONS:
        data.add("locations", {"code": code, "displayName": name, "contact": "", "addressLine1": "1 Dock Road",
                               "addressLine2": "", "city": city, "state": state, "country": "US", "postalCode": "60601",
                               "phoneNumber": "", "email": "", "website": ""})
    item_list = list(items.values())
    vendor_list = [vendor_ids[n] for n in ("10000", "20000", "30000", "40000")]
    base = date(2026, 11, 2)
    for n in range(1, purchase_orders + 1):
        vendor = vendor_list[n % 4]
        status = STATUSES[n % len(STATUSES)]
        lines = []
        for k in range(n % 3 + 1):
            item = item_list[(n + k) % 5]
            quantity = Decimal((n * 7 + k * 3) % 40 + 1)
            received = quantity if status == "Open" and n % 4 == 1 else (
                Decimal(1) if status == "Open" and n % 4 == 2 and k == 0 else Decimal(0))
            lines.append({"itemId": item["id"], "accountId": "", "lineType": "Item", "lineObjectNumber": item["number"],
                          "description": item["displayName"], "unitOfMeasureId": "",
                          "unitOfMeasureCode": item["baseUnitOfMeasureCode"], "quantity": quantity,
                          "directUnitCost": item["unitCost"], "discountAmount": Decimal(0),
                          "discountPercent": Decimal(0), "discountAppliedBeforeTax": False, "taxCode": "FURNITURE",
                          "taxPercent": Decimal("6"), "invoiceDiscountAllocation": Decimal(0),
                          "expectedReceiptDate": base + timedelta(days=n + 10), "receivedQuantity": received,
                          "invoicedQuantity": received if n % 8 == 1 else Decimal(0), "invoiceQuantity": Decimal(0),
                          "receiveQuantity": Decimal(0), "itemVariantId": "", "locationId": ""})
        if n % 5 == 0:  # freight to a G/L account, and a comment line
            lines.append({"itemId": "", "accountId": str(uuid.uuid5(uuid.NAMESPACE_OID, "61300")),
                          "lineType": "Account", "lineObjectNumber": "61300", "description": "Freight",
                          "unitOfMeasureId": "",
                          "unitOfMeasureCode": "", "quantity": Decimal(1), "directUnitCost": Decimal("45.5"),
                          "taxPercent": Decimal(0), "expectedReceiptDate": None, "receivedQuantity": Decimal(0),
                          "invoicedQuantity": Decimal(0)})
            lines.append({"itemId": "", "accountId": "", "lineType": "Comment", "lineObjectNumber": "",
                          "description": "Deliver to gate 4", "unitOfMeasureId": "", "unitOfMeasureCode": "",
                          "quantity": Decimal(0), "directUnitCost": Decimal(0), "taxPercent": Decimal(0),
                          "expectedReceiptDate": None, "receivedQuantity": Decimal(0), "invoicedQuantity": Decimal(0)})
        if n % 7 == 0:
            lines.append({"itemId": "", "accountId": "", "lineType": "Fixed Asset", "lineObjectNumber": "FA000070",
                          "description": "Forklift battery", "unitOfMeasureId": "", "unitOfMeasureCode": "PCS",
                          "quantity": Decimal(1), "directUnitCost": Decimal("2450"), "taxPercent": Decimal("6"),
                          "expectedReceiptDate": None, "receivedQuantity": Decimal(0), "invoicedQuantity": Decimal(0)})
        foreign = vendor["currencyCode"]
        header = {"number": f"106{n:03d}", "orderDate": base + timedelta(days=n % 20),
                  "postingDate": base + timedelta(days=n % 20), "vendorId": vendor["id"],
                  "vendorNumber": vendor["number"], "vendorName": vendor["displayName"],
                  "payToName": vendor["displayName"], "payToVendorId": vendor["id"],
                  "payToVendorNumber": vendor["number"], "shipToName": "CRONUS USA, Inc.", "shipToContact": "",
                  "buyFromAddressLine1": vendor["addressLine1"], "buyFromAddressLine2": "",
                  "buyFromCity": vendor["city"], "buyFromCountry": vendor["country"], "buyFromState": vendor["state"],
                  "buyFromPostCode": vendor["postalCode"], "payToAddressLine1": vendor["addressLine1"],
                  "payToAddressLine2": "", "payToCity": vendor["city"], "payToCountry": vendor["country"],
                  "payToState": vendor["state"], "payToPostCode": vendor["postalCode"],
                  "shipToAddressLine1": "7122 South Ashford Street", "shipToAddressLine2": "Westminster",
                  "shipToCity": "Atlanta", "shipToCountry": "US", "shipToState": "GA", "shipToPostCode": "31772",
                  "shortcutDimension1Code": "", "shortcutDimension2Code": "",
                  # The local currency has no currency id: currencyCode then shows the local currency.
                  "currencyId": vendor["currencyId"], "currencyCode": foreign or "USD", "pricesIncludeTax": False,
                  "paymentTermsId": vendor["paymentTermsId"] if n % 6 else "", "shipmentMethodId": "",
                  "purchaser": "JO" if n % 3 else "", "requestedReceiptDate": None if n % 4 == 3 else
                  base + timedelta(days=n + 14), "discountAmount": Decimal(0), "discountAppliedBeforeTax": True,
                  "status": status}
        data.add_purchase_order(header, lines)
    return data


# --- the server ----------------------------------------------------------------------------------


def _identity_error(status: int, error: str, code: int, description: str) -> tuple[int, dict, dict]:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return status, {"Content-Type": "application/json; charset=utf-8"}, {
        "error": error, "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: "
                                             f"{correlation} Timestamp: {now}",
        "error_codes": [code], "timestamp": now, "trace_id": trace, "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}"}


_COMPARISON = re.compile(r"^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$")
_DATETIME_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_OPERATORS = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan",
              "le": "LessThanOrEqual"}


def row_filter(expression: str):
    """$filter as Business Central reads it: comparisons joined by `and`. A datetime field compares
    with an unquoted literal only; a quoted one is a type error, as in Business Central."""
    tests = []
    for part in re.split(r"\s+and\s+", expression.strip()):
        match = _COMPARISON.match(part)
        if not match:
            raise BcError(400, "BadRequest", f"Syntax error at position 1 in '{expression}'.")
        field, op, literal = match.groups()
        if field in DATETIME_FIELDS:
            if literal.startswith("'"):
                raise BcError(400, "BadRequest", "A binary operator with incompatible types was detected. Found "
                                                 f"operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator "
                                                 f"kind '{_OPERATORS[op]}'.")
            if not _DATETIME_LITERAL.match(literal):
                raise BcError(400, "BadRequest", f"Unrecognized 'Edm.DateTimeOffset' literal '{literal}'.")
            value = datetime.fromisoformat(literal)
        elif literal.startswith("'") and literal.endswith("'"):
            value = literal[1:-1].replace("''", "'")
        else:
            raise BcError(400, "BadRequest", f"Could not find a property named '{field}' or the literal is invalid.")
        tests.append((field, op, value))

    def matches(row: dict) -> bool:
        for field, op, value in tests:
            if field not in row:
                raise BcError(400, "BadRequest", f"Could not find a property named '{field}' on type "
                                                 "'Microsoft.NAV.entity'.")
            actual = row[field]
            if field in DATETIME_FIELDS and actual is None:
                return False
            ok = {"eq": actual == value, "ne": actual != value, "gt": actual > value, "ge": actual >= value,
                  "lt": actual < value, "le": actual <= value}[op]
            if not ok:
                return False
        return True

    return matches


class _Handler(LoopbackHandler):
    sim: "BusinessCentralSimulator"
    server_version = "Microsoft-HTTPAPI/2.0"

    def _reply(self, record: dict, status: int, headers: dict, body) -> None:
        record["status"] = status
        payload = body if isinstance(body, bytes) else dumps(body)
        self._send(status, headers, payload)

    def do_POST(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode())) if length else {}
        record = {"method": "POST", "path": parts.path, "query": {}, "form": {k: v for k, v in form.items()
                                                                               if k != "client_secret"},
                  "status": None, "headers": dict(self.headers.items())}
        self.sim.requests.append(record)
        self._reply(record, *self._token(parts.path, form))

    def _token(self, path: str, form: dict):
        sim = self.sim
        match = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", path)
        if not match:
            return 404, {"Content-Type": "text/html"}, b"<html><body>Not found</body></html>"
        tenant = match.group(1)
        if tenant != sim.tenant_id:
            return _identity_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure "
                                                                  "you have the correct tenant ID.")
        if form.get("grant_type") != "client_credentials":
            return _identity_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant "
                                                                         "type.")
        if form.get("client_id") != sim.client_id:
            return _identity_error(400, "unauthorized_client", 700016,
                                   f"Application with identifier '{form.get('client_id')}' was not found in the "
                                   f"directory '{tenant}'.")
        if form.get("client_secret") != sim.client_secret:
            return _identity_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the "
                                                                   "secret being sent in the request is the client "
                                                                   "secret value, not the client secret ID.")
        if form.get("scope") != SCOPE:
            return _identity_error(400, "invalid_scope", 1002012, f"The provided value for scope "
                                                                  f"{form.get('scope')} is not valid.")
        return 200, {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}, sim._issue(tenant)

    def do_GET(self):
        parts, query = self._parse()
        record = {"method": "GET", "path": parts.path, "query": query, "status": None,
                  "headers": dict(self.headers.items())}
        self.sim.requests.append(record)
        try:
            status, headers, body = self._answer(parts.path, query)
        except BcError as exc:
            status, headers, body = exc.status, {"Content-Type": "application/json; charset=utf-8", **exc.headers}, \
                bc_error(exc.code, exc.message)
        self._reply(record, status, headers, body)

    def _answer(self, path: str, query: dict):
        sim = self.sim
        match = re.fullmatch(r"/v2\.0/([^/]+)/([^/]+)/api/v2\.0/companies(?:\(([^)]*)\)(?:/(\w+))?)?", path)
        if not match:
            raise BcError(404, "BadRequest_NotFound", "The request URL is not valid.")
        tenant, environment, company_id, entity_set = match.groups()
        if tenant != sim.tenant_id or not sim._token_valid(self.headers.get("Authorization", ""), tenant):
            raise BcError(401, "Authentication_InvalidCredentials", "The server has rejected the client credentials.",
                          headers={"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/'
                                                       f'{tenant}/oauth2/authorize", Error="invalid_token"'})
        if environment not in sim.environments:
            raise BcError(404, "NoEnvironment", f"Environment '{environment}' does not exist.")
        fault = sim._next_fault()
        if fault and fault["kind"] == "rate_limit":
            raise BcError(429, "Application_TooManyRequests",
                          "Too many requests reached.  Actual (6001).  Maximum (6000).",
                          headers={"Retry-After": str(fault["retry_after"])})
        if fault and fault["kind"] == "gateway_timeout":
            return 504, {"Content-Type": "text/plain"}, b"Gateway Timeout"
        base = sim.api_url(environment)
        if company_id is None:
            rows, key, context = list(sim.data.companies.values()), "name", f"{base}/$metadata#companies"
        else:
            company_id = company_id.strip("'").lower()
            if company_id not in sim.data.companies:
                raise BcError(404, "Internal_CompanyNotFound", f"Cannot process the request because the company "
                                                              f"'{company_id}' cannot be found.")
            if entity_set is None:
                raise BcError(400, "BadRequest", "A single company is not served by this simulator.")
            if entity_set not in ENTITY_SETS:
                raise BcError(404, "BadRequest_NotFound", f"Resource not found for the segment '{entity_set}'.")
            rows, key = sim.data.collection(company_id, entity_set), ENTITY_SETS[entity_set]
            context = f"{base}/$metadata#companies({company_id})/{entity_set}"
        expand = {e.strip() for e in query.get("$expand", "").split(",") if e.strip()}
        if expand - ({"purchaseOrderLines"} if entity_set == "purchaseOrders" else set()):
            raise BcError(400, "BadRequest", f"Could not find a property named '{sorted(expand)[0]}'.")
        if "$filter" in query:
            keep = row_filter(query["$filter"])
            rows = [r for r in rows if keep(r)]
        rows.sort(key=lambda r: r[key])
        if "$skiptoken" in query:
            after = query["$skiptoken"].strip("'").replace("''", "'")
            rows = [r for r in rows if r[key] > after]
        try:
            top = int(query["$top"]) if "$top" in query else None
        except ValueError:
            raise BcError(400, "BadRequest", "Invalid value for $top.") from None
        size, headers = sim.page_size, {"Content-Type": "application/json; odata.metadata=minimal; "
                                                        "odata.streaming=true", "OData-Version": "4.0"}
        prefer = re.search(r"odata\.maxpagesize=(\d+)", self.headers.get("Prefer", ""))
        if prefer:
            size = min(size, int(prefer.group(1)))
            headers["Preference-Applied"] = f"odata.maxpagesize={size}"
        window = rows if top is None else rows[:top]
        page = window[:size]
        body = {"@odata.context": context, "value": [self._entity(r, expand) for r in page]}
        if len(window) > size:
            following = {k: v for k, v in query.items() if k != "$skiptoken"}
            if top is not None:
                following["$top"] = str(top - size)
            following["$skiptoken"] = "'" + page[-1][key].replace("'", "''") + "'"
            body["@odata.nextLink"] = f"{base}{path[len(urlsplit(base).path):]}?" + urlencode(
                following, quote_via=quote, safe="$',:")
        return 200, headers, body

    @staticmethod
    def _entity(row: dict, expand: set) -> dict:
        entity = {"@odata.etag": f'W/"JzIwOz{str(row.get("id", ""))[:8]}OzAwOyc="'}
        for name, value in row.items():
            if name == "purchaseOrderLines":
                if name in expand:
                    entity[name] = [{"@odata.etag": 'W/"JzE5OzEyMzQ1Njc4OTAxMjM0NTY3ODkxOzAwOyc="',
                                     **{k: wire_value(k, v) for k, v in line.items()}} for line in value]
                continue
            entity[name] = wire_value(name, value)
        return entity


_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)\\u0000"')


def _json_default(value):
    if isinstance(value, Decimal):
        # Marked here and written as a JSON number below, with its exact digits (no float on the way).
        return f"\u0000D{format(value.normalize(), 'f')}\u0000"
    raise TypeError(type(value))


def dumps(body) -> bytes:
    """JSON as Business Central writes it: decimals as numbers (506.6, 4, 1200.5)."""
    return _NUMBER.sub(lambda m: m.group(1), json.dumps(body, default=_json_default)).encode()


class BusinessCentralSimulator(LoopbackSimulator):
    """The server and its data. `start()` binds a free loopback port; `stop()` shuts it down."""

    handler_class = _Handler
    thread_name = "bc-simulator"
    # on API requests: rate_limit (429 with Retry-After) or gateway_timeout (504)
    fault_kinds = ("rate_limit", "gateway_timeout")

    def __init__(self, *, data: BcData | None = None, page_size: int = 20000, tenant_id: str = TENANT_ID,
                 environments: tuple[str, ...] = (ENVIRONMENT, "sandbox"), client_id: str = CLIENT_ID,
                 client_secret: str = CLIENT_SECRET, token_lifetime: int = 3599, token_requests: int | None = None):
        super().__init__()
        self.data = data or seed(BcData())
        self.page_size = page_size
        self.tenant_id, self.environments = tenant_id, environments
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime, self.token_requests = token_lifetime, token_requests
        self.tokens: dict[str, dict] = {}  # access token -> {"expires_at", "uses", "tenant"}

    def api_url(self, environment: str = ENVIRONMENT) -> str:
        return f"{self.url}/v2.0/{self.tenant_id}/{environment}/api/v2.0"

    def expire_tokens(self) -> None:
        with self._lock:
            for token in self.tokens.values():
                token["expires_at"] = 0

    def token_requests_made(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]

    def _issue(self, tenant: str) -> dict:
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + uuid.uuid4().hex + uuid.uuid4().hex
        with self._lock:
            self.tokens[token] = {"expires_at": time.time() + self.token_lifetime, "uses": 0, "tenant": tenant}
        return {"token_type": "Bearer", "expires_in": self.token_lifetime, "ext_expires_in": self.token_lifetime,
                "access_token": token}

    def _token_valid(self, header: str, tenant: str) -> bool:
        if not header.startswith("Bearer "):
            return False
        with self._lock:
            token = self.tokens.get(header[7:])
            if token is None or token["tenant"] != tenant or token["expires_at"] <= time.time():
                return False
            if self.token_requests is not None and token["uses"] >= self.token_requests:
                token["expires_at"] = 0
                return False
            token["uses"] += 1
            return True


def main(argv=None):
    parser = argparse.ArgumentParser(description="A loopback Business Central API v2.0 simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--page-size", type=int, default=5, help="server-side page size (@odata.nextLink)")
    parser.add_argument("--purchase-orders", type=int, default=18)
    parser.add_argument("--token-lifetime", type=int, default=3599, help="seconds a token is valid")
    args = parser.parse_args(argv)
    sim = BusinessCentralSimulator(data=seed(BcData(), purchase_orders=args.purchase_orders),
                                   page_size=args.page_size, token_lifetime=args.token_lifetime)
    sim.start(args.host, args.port)
    print(f"Business Central simulator at {sim.url}", flush=True)
    print(f"  connector business_central: tenant_id={sim.tenant_id} environment={ENVIRONMENT} "
          f"api_base_url={sim.url} login_base_url={sim.url} (company_id: leave empty, Test connection lists them)",
          flush=True)
    print(f"  credentials: client_id={sim.client_id} client_secret={sim.client_secret}", flush=True)
    print(f"  companies: {COMPANY_ID} (CRONUS USA, Inc.), {OTHER_COMPANY_ID} (My Company)", flush=True)
    sim.serve_until_interrupted()


if __name__ == "__main__":
    main()
