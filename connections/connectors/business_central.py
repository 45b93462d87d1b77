"""Microsoft Dynamics 365 Business Central through its standard API v2.0 (docs/connectors/business_central.md).

Authenticates as a Microsoft Entra application (OAuth2 client credentials, service-to-service):
the token comes from `{login_base_url}/{tenant_id}/oauth2/v2.0/token` with the scope
`https://api.businesscentral.dynamics.com/.default`, is cached encrypted on the connection and is
fetched again when it expires, also in the middle of a run (the toolkit's OAuth2ClientCredentials).

Reads `{api_base_url}/v2.0/{tenant_id}/{environment}/api/v2.0/companies({company_id})/`:

- purchase orders: `purchaseOrders?$expand=purchaseOrderLines`;
- vendors: `vendors`; inventory items: `items`; locations: `locations`.

Work orders and assets are not in Business Central's standard API, so they are not offered.

Changed-since is `$filter=lastModifiedDateTime gt 2026-11-20T08:00:00Z` (an unquoted literal); a
line change moves its order's lastModifiedDateTime, so the order is read again with every line.
Pages follow `@odata.nextLink`; the checkpoint is the link. Deleted rows (and purchase orders
posted in full, which Business Central deletes) simply disappear: only full re-syncs find them.
On the wire, enum members are XML-encoded (`In_x0020_Review`), and the zero GUID and `0001-01-01`
stand for empty.
"""

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from connections.connectors.base import ConfigField, Connector, MappingError, Page, ReadRequest, UpstreamError
from connections.connectors.http import OAuth2ClientCredentials, UpstreamClient, same_host_link
from connections.connectors.parsing import date_out, decimal_number, decimal_string, iso_datetime, iso_out

DEFAULT_API_BASE_URL = "https://api.businesscentral.dynamics.com"
DEFAULT_LOGIN_BASE_URL = "https://login.microsoftonline.com"
# The token's audience is the Business Central resource registered in Microsoft Entra ID, named by its
# application ID URI; it does not follow api_base_url (a simulator, a proxy). See the docs' "Scope".
SCOPE = "https://api.businesscentral.dynamics.com/.default"
# Business Central online allows 6,000 requests per 5 minutes per user or service principal: 1,200 a
# minute. The default leaves room for the customer's other integrations under the same app.
DEFAULT_REQUESTS_PER_MINUTE = 600
MAX_PAGE_SIZE = 1000  # Prefer: odata.maxpagesize; Business Central's own maximum is 20,000 rows a page
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01"

# entity -> entity set
RESOURCES = {
    "purchase_orders": "purchaseOrders",
    "vendors": "vendors",
    "inventory_items": "items",
    "locations": "locations",
}

# purchaseOrder.status (NAV.purchaseOrderEntityBufferStatus: Draft, In Review, Open) -> the unified
# status before the lines' receipts refine it. Other members (a later version's, or a customization's)
# map to "open"; upstream_status keeps them.
ORDER_STATUS = {"Draft": "draft", "In Review": "pending_approval", "Pending Approval": "pending_approval",
                "Open": "open", "Released": "open", "Pending Prepayment": "open"}
# ISO 4217 minor units where they are not 2; amounts are rounded to these.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3,
               "LYD": 3, "IQD": 3}

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")  # a directory id or a domain name
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$")
_XML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


# --- wire values ------------------------------------------------------------------------------


def enum_value(value) -> str | None:
    """An enum member as Business Central's OData writes it, decoded: In_x0020_Review -> "In Review",
    Non_x002D_Inventory -> "Non-Inventory"; the blank member (_x0020_) and empty are None."""
    if not isinstance(value, str):
        return None
    decoded = _XML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value).strip()
    return decoded or None


def empty(value) -> bool:
    """Business Central's empty values: "", the zero GUID, 0001-01-01 (as a date or a datetime)."""
    if value is None:
        return True
    if isinstance(value, str):
        text = value.strip()
        return not text or text == ZERO_GUID or text.startswith(EMPTY_DATE)
    return False


def _text(value) -> str | None:
    return None if empty(value) or not isinstance(value, str) else value.strip()


def _guid(value) -> str | None:
    return None if empty(value) else str(value).lower()


def _date(value, field: str) -> str | None:
    if empty(value):
        return None
    try:
        return date_out(date.fromisoformat(str(value)))
    except ValueError:
        raise MappingError(f"{field}: not a date: {str(value)[:30]!r}") from None


def _moment(value, field: str) -> datetime | None:
    if empty(value):
        return None
    try:
        return iso_datetime(value).astimezone(UTC)
    except MappingError as exc:
        raise MappingError(f"{field}: {exc}") from None


def _number(value, field: str) -> Decimal | None:
    try:
        return decimal_number(value)
    except MappingError as exc:
        raise MappingError(f"{field}: {exc}") from None


def _quantity(value, field: str) -> str | None:
    return decimal_string(_number(value, field), trim=True)


def _money(value, field: str, currency: str | None) -> str | None:
    number = _number(value, field)
    if number is None:
        return None
    places = MINOR_UNITS.get(currency or "", 2)
    return decimal_string(number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _currency(value) -> str | None:
    text = _text(value)
    return text.upper() if text and re.fullmatch(r"[A-Za-z]{3}", text) else None


def _country(value) -> str | None:
    text = _text(value)
    return text.upper() if text and re.fullmatch(r"[A-Za-z]{2}", text) else None


def _custom(raw: dict, names) -> dict:
    """Upstream fields with no unified home, JSON-safe (decimals as decimal strings), empties left out."""
    fields = {}
    for name in names:
        value = raw.get(name)
        if name in raw and isinstance(value, str) and _XML_ESCAPE.search(value):
            value = enum_value(value)
        if isinstance(value, Decimal):
            value = decimal_string(value)
        if value is not None and not (isinstance(value, str) and empty(value)):
            fields[name] = value
    return fields


def _address(raw: dict) -> dict | None:
    address = {"line1": _text(raw.get("addressLine1")), "line2": _text(raw.get("addressLine2")),
               "city": _text(raw.get("city")), "region": _text(raw.get("state")),
               "postal_code": _text(raw.get("postalCode")), "country": _country(raw.get("country"))}
    return address if any(address.values()) else None


def _one_text(*parts) -> str | None:
    text = ", ".join(p for p in (_text(part) for part in parts) if p)
    return text or None


def bc_error_message(response) -> str | None:
    """The message of Business Central's error body {"error":{"code","message"}}, or of the
    identity platform's {"error","error_description"}; None for anything else."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"].strip():
        code = error.get("code")
        return f"Business Central: {error['message'].strip()}" + (f" [{code}]" if isinstance(code, str) and code
                                                                   else "")
    if isinstance(error, str) and isinstance(body.get("error_description"), str):
        return f"Microsoft identity platform: {error}: {body['error_description'].strip()}"
    return None


# --- the connector ------------------------------------------------------------------------------


class BusinessCentralConnector(Connector):
    key = "business_central"
    name = "Microsoft Dynamics 365 Business Central"
    category = "erp"
    description = ("Purchase orders with their lines, vendors, items and locations of one Business Central company, "
                   "through the standard API v2.0, as a Microsoft Entra application (client credentials).")
    entities = ("vendors", "locations", "inventory_items", "purchase_orders")
    config_fields = (
        ConfigField("tenant_id", "Tenant ID", "string", required=True,
                    help="The Microsoft Entra tenant (directory) ID, or its domain name.",
                    example="7f3c5a9e-2b41-4d8a-9c6e-1a2b3c4d5e6f"),
        ConfigField("environment", "Environment", "string", default="production",
                    help="The Business Central environment's name, as the admin center shows it.", example="sandbox"),
        ConfigField("company_id", "Company ID", "string",
                    help="The company's id (a GUID). Leave it empty and use Test connection to list the companies.",
                    example="c1a2b3c4-0001-4000-8000-00000000c0de"),
        ConfigField("api_base_url", "API base URL", "url", default=DEFAULT_API_BASE_URL,
                    help="Change it only for a sovereign cloud or a test server."),
        ConfigField("login_base_url", "Login base URL", "url", default=DEFAULT_LOGIN_BASE_URL,
                    help="The Microsoft identity platform's address; change it only for a sovereign cloud or a "
                         "test server."),
        ConfigField("requests_per_minute", "Requests per minute", "integer", default=DEFAULT_REQUESTS_PER_MINUTE,
                    min_value=1, max_value=1200,
                    help="Shared by every sync of this connection; Business Central allows 6,000 per 5 minutes "
                         "per application."),
    )
    credential_fields = (
        ConfigField("client_id", "Application (client) ID", "string", required=True,
                    help="Of the app registration in Microsoft Entra ID.",
                    example="3e2a1f0c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"),
        ConfigField("client_secret", "Client secret", "password", required=True,
                    help="The secret's value (not its ID), from Certificates & secrets."),
    )

    def __init__(self, *, config: dict, credentials: dict, connection=None):
        super().__init__(config=config, credentials=credentials, connection=connection)
        self._client: UpstreamClient | None = None
        self._companies: list[dict] | None = None

    @classmethod
    def config_errors(cls, config: dict) -> dict:
        # These go into URL paths: a slash or a parenthesis would address something else.
        errors = {}
        tenant, environment, company = config.get("tenant_id"), config.get("environment"), config.get("company_id")
        if isinstance(tenant, str) and tenant and not _TENANT.match(tenant):
            errors["config.tenant_id"] = "expected a tenant id (GUID) or a domain name"
        if isinstance(environment, str) and not _ENVIRONMENT.match(environment):
            errors["config.environment"] = "expected an environment name: letters, digits, - and _, at most 30"
        if isinstance(company, str) and company and not _GUID.match(company.strip()):
            errors["config.company_id"] = "expected a company id (GUID); Test connection lists them"
        return errors

    @classmethod
    def prepare_config(cls, config: dict) -> dict:
        prepared = {**config, "api_base_url": config["api_base_url"].rstrip("/"),
                    "login_base_url": config["login_base_url"].rstrip("/")}
        if prepared.get("company_id"):
            prepared["company_id"] = prepared["company_id"].strip().lower()
        return prepared

    # --- addresses --------------------------------------------------------------------------

    @property
    def api_root(self) -> str:
        base = (self.config.get("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")
        environment = self.config.get("environment") or "production"
        return f"{base}/v2.0/{self.config.get('tenant_id', '')}/{environment}/api/v2.0"

    @property
    def token_url(self) -> str:
        login = (self.config.get("login_base_url") or DEFAULT_LOGIN_BASE_URL).rstrip("/")
        return f"{login}/{self.config.get('tenant_id', '')}/oauth2/v2.0/token"

    @property
    def company_id(self) -> str | None:
        value = self.config.get("company_id")
        return value.strip().lower() if isinstance(value, str) and value.strip() else None

    @property
    def client(self) -> UpstreamClient:
        if self._client is None:
            secret = self.credentials.get("client_secret", "")
            connection_id = getattr(self.connection, "pk", None)
            auth = OAuth2ClientCredentials(token_url=self.token_url, client_id=self.credentials.get("client_id", ""),
                                           client_secret=secret, scope=SCOPE, connection_id=connection_id)
            self._client = UpstreamClient(
                base_url=self.api_root, auth=auth, connection_id=connection_id,
                requests_per_minute=int(self.config.get("requests_per_minute") or DEFAULT_REQUESTS_PER_MINUTE),
                error_message=bc_error_message, secrets=[secret],
                headers={"Prefer": f"odata.maxpagesize={MAX_PAGE_SIZE}"})
        return self._client

    # --- reading ----------------------------------------------------------------------------

    def check(self) -> None:
        """Fetches a token and lists the environment's companies; a configured company must be one."""
        body = self.client.json("GET", f"{self.api_root}/companies", resource="companies")
        rows = body.get("value") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE", "Business Central sent no list of companies.")
        self._companies = [{"id": str(r.get("id", "")).lower(), "name": r.get("displayName") or r.get("name") or ""}
                           for r in rows if isinstance(r, dict)]
        if self.company_id and self.company_id not in {c["id"] for c in self._companies}:
            names = ", ".join(f"{c['name']} ({c['id']})" for c in self._companies) or "none"
            raise UpstreamError("UPSTREAM_NOT_FOUND", f"The environment has no company {self.company_id}; its "
                                                      f"companies: {names}.",
                                details={"companies": self._companies})

    def check_details(self) -> dict:
        """Without a company chosen, the companies check() found, as choices for company_id."""
        if self.company_id or not self._companies:
            return {}
        return {"choices": {"company_id": [{"value": c["id"], "label": c["name"]} for c in self._companies]}}

    def probe(self, entity: str) -> None:
        self._get(entity, self._url(entity), {"$top": "1"})

    def fetch_page(self, request: ReadRequest) -> Page:
        entity = request.entity
        following = (request.checkpoint or {}).get("next")
        if following:
            url, params = same_host_link(self.api_root, following, system="Business Central"), None
        else:
            url, params = self._url(entity), self._params(entity, request.since)
        body = self._get(entity, url, params)
        rows = body.get("value") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE", f"Business Central sent no value list for "
                                                             f"{RESOURCES[entity]}.")
        following = body.get("@odata.nextLink")
        return Page(records=rows, next_checkpoint={"next": following} if isinstance(following, str) and following
                    else None)

    def _url(self, entity: str) -> str:
        if not self.company_id:
            raise UpstreamError("UPSTREAM_REQUEST_REJECTED", "No company is chosen: set Company ID to one of the "
                                                             "companies Test connection lists.",
                                details={"fields": {"config.company_id": "choose a company"}})
        return f"{self.api_root}/companies({self.company_id})/{RESOURCES[entity]}"

    @staticmethod
    def _params(entity: str, since: datetime | None) -> dict:
        params = {}
        if entity == "purchase_orders":
            params["$expand"] = "purchaseOrderLines"
        if since is not None:
            # Unquoted: a quoted literal is a type error. Floored to the second, so nothing is missed.
            params["$filter"] = f"lastModifiedDateTime gt {since.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
        return params

    def _get(self, entity: str, url: str, params: dict | None):
        return self.client.json("GET", url, params=params or None, resource=RESOURCES[entity])

    # --- mapping ----------------------------------------------------------------------------

    def remote_id(self, entity: str, raw: dict) -> str:
        value = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(value, str) or empty(value):
            raise MappingError(f"{entity} record without id")
        return value.lower()

    def normalize(self, entity: str, raw: dict) -> dict:
        try:
            return getattr(self, f"_norm_{entity}")(raw)
        except (KeyError, TypeError, AttributeError) as exc:
            raise MappingError(f"{entity} record {raw.get('number') or raw.get('code') or raw.get('id', '?')}: "
                               f"missing or bad field {exc}") from exc

    def _common(self, raw: dict, number_field: str) -> dict:
        updated = _moment(raw.get("lastModifiedDateTime"), "lastModifiedDateTime")
        if updated is None:
            raise MappingError("lastModifiedDateTime is empty")
        return {"remote_id": self.remote_id("", raw), "number": _text(raw.get(number_field)), "created_at": None,
                "updated_at": iso_out(updated)}

    def _norm_purchase_orders(self, raw: dict) -> dict:
        if not isinstance(raw.get("purchaseOrderLines"), list):
            raise MappingError("purchaseOrderLines was not expanded")
        currency = _currency(raw.get("currencyCode"))
        lines = [self._po_line(line, currency) for line in sorted(
            raw["purchaseOrderLines"], key=lambda line: line.get("sequence") or 0)]
        upstream = enum_value(raw.get("status"))
        status = ORDER_STATUS.get(upstream or "", "open")
        goods = [line for line in lines if line["status"] is not None]
        if status == "open" and goods:
            if all(line["status"] == "closed" for line in goods):
                status = "closed"
            elif all(line["status"] in ("received", "closed") for line in goods) or raw.get("fullyReceived") is True:
                status = "received"
            elif any(line["status"] != "open" for line in goods):
                status = "partially_received"
        for line in lines:
            if line["status"] is None:
                line["status"] = "open"
        vendor = _guid(raw.get("vendorId"))
        ship_to = _one_text(raw.get("shipToName"), raw.get("shipToAddressLine1"), raw.get("shipToAddressLine2"),
                            _one_text(raw.get("shipToPostCode"), raw.get("shipToCity")), raw.get("shipToState"),
                            raw.get("shipToCountry"))
        bill_to = _one_text(raw.get("payToName"), raw.get("payToAddressLine1"), raw.get("payToAddressLine2"),
                            _one_text(raw.get("payToPostCode"), raw.get("payToCity")), raw.get("payToState"),
                            raw.get("payToCountry"))
        return {
            **self._common(raw, "number"), "upstream_status": upstream, "status": status,
            "vendor": {"remote_id": vendor, "name": _text(raw.get("vendorName"))} if vendor else None,
            "order_date": _date(raw.get("orderDate"), "orderDate"),
            "required_date": _date(raw.get("requestedReceiptDate"), "requestedReceiptDate"),
            "currency": currency,
            "subtotal": _money(raw.get("totalAmountExcludingTax"), "totalAmountExcludingTax", currency),
            "tax": _money(raw.get("totalTaxAmount"), "totalTaxAmount", currency),
            "total": _money(raw.get("totalAmountIncludingTax"), "totalAmountIncludingTax", currency),
            "payment_terms": None, "ship_to": ship_to, "bill_to": bill_to, "organization": None,
            "buyer": _text(raw.get("purchaser")), "lines": lines,
            "custom_fields": _custom(raw, ("vendorNumber", "postingDate", "payToVendorNumber", "paymentTermsId",
                                           "shipmentMethodId", "discountAmount", "pricesIncludeTax",
                                           "fullyReceived")),
        }

    @staticmethod
    def _po_line(line: dict, currency: str | None) -> dict:
        where = f"line {line.get('sequence', '?')}"
        kind = enum_value(line.get("lineType"))
        quantity = _number(line.get("quantity"), f"{where} quantity")
        received = _number(line.get("receivedQuantity"), f"{where} receivedQuantity")
        invoiced = _number(line.get("invoicedQuantity"), f"{where} invoicedQuantity")
        if kind == "Comment" or not quantity:
            status = None  # no goods: "open", and left out of the order's receipt status
        elif invoiced is not None and invoiced >= quantity and received is not None and received >= quantity:
            status = "closed"
        elif received is not None and received >= quantity:
            status = "received"
        elif received:
            status = "partially_received"
        else:
            status = "open"
        number = _text(line.get("lineObjectNumber"))
        item = _guid(line.get("itemId")) if kind == "Item" else None
        sequence = line.get("sequence")
        if sequence is not None and (isinstance(sequence, bool) or not isinstance(sequence, int)):
            raise MappingError(f"{where}: sequence is not an integer")
        return {"line_number": sequence, "item_code": number if kind != "Comment" else None,
                "item": {"remote_id": item, "code": number} if item else None,
                "description": _text(line.get("description")),
                "quantity": decimal_string(quantity, trim=True),
                "unit_of_measure": _text(line.get("unitOfMeasureCode")),
                "unit_price": _quantity(line.get("directUnitCost"), f"{where} directUnitCost"),
                "amount": _money(line.get("amountExcludingTax"), f"{where} amountExcludingTax", currency),
                "tax_amount": _money(line.get("totalTaxAmount"), f"{where} totalTaxAmount", currency),
                "quantity_received": decimal_string(received, trim=True),
                "delivery_date": _date(line.get("expectedReceiptDate"), f"{where} expectedReceiptDate"),
                "status": status, "account": number if kind == "Account" else None}

    def _norm_vendors(self, raw: dict) -> dict:
        blocked = enum_value(raw.get("blocked"))
        return {**self._common(raw, "number"), "upstream_status": blocked,
                "name": _text(raw.get("displayName")), "code": _text(raw.get("number")),
                "email": _text(raw.get("email")), "phone": _text(raw.get("phoneNumber")), "address": _address(raw),
                "currency": _currency(raw.get("currencyCode")), "status": "inactive" if blocked else "active",
                "tax_id": _text(raw.get("taxRegistrationNumber")),
                "custom_fields": _custom(raw, ("website", "irs1099Code", "paymentTermsId", "paymentMethodId",
                                               "taxLiable", "balance"))}

    def _norm_inventory_items(self, raw: dict) -> dict:
        blocked = raw.get("blocked") is True
        return {**self._common(raw, "number"), "upstream_status": "Blocked" if blocked else None,
                "code": _text(raw.get("number")), "name": _text(raw.get("displayName")), "description": None,
                "status": "inactive" if blocked else "active",
                "unit_of_measure": _text(raw.get("baseUnitOfMeasureCode")),
                "quantity_on_hand": _quantity(raw.get("inventory"), "inventory"), "minimum_quantity": None,
                "unit_cost": _quantity(raw.get("unitCost"), "unitCost"), "currency": None, "location": None,
                "site": None, "stock": [],
                "custom_fields": _custom(raw, ("type", "itemCategoryCode", "gtin", "unitPrice", "priceIncludesTax",
                                               "taxGroupCode", "generalProductPostingGroupCode",
                                               "inventoryPostingGroupCode"))}

    def _norm_locations(self, raw: dict) -> dict:
        return {**self._common(raw, "code"), "upstream_status": None, "name": _text(raw.get("displayName")),
                "code": _text(raw.get("code")), "status": "active", "parent": None, "address": _address(raw),
                "custom_fields": _custom(raw, ("contact", "phoneNumber", "email", "website"))}
