"""MaintainX through its public REST API v1 (docs/connectors/maintainx.md).

Reads work orders, assets, parts (inventory items), vendors, locations and purchase orders with an
API key sent as `Authorization: Bearer`, and `x-organization-id` for a token of several
organizations.

- Lists page with `cursor` + `limit` through `nextCursor`; a cursor is opaque: it is handed back
  as it came (URL-encoded by the client), never parsed or built.
- Changed-since is `updatedAt[gte]` where the list takes it (work orders, assets, parts,
  purchase orders); vendors and locations are read whole every run and compared by hash.
- Every list but work orders pages by OFFSET inside its cursor, so a row deleted during the read
  shifts the rows after it back and one would slip past the next page. After reading page n the
  connector reads page n-1 again (its cursor kept in the checkpoint) and adds the rows there it
  had not seen: exactly those that slid back across the boundary.
- Purchase order lists carry id, status and dates only: each order's detail is read by id. A
  detail showing `deletedAt` (deleted since the list was read) is a tombstone.
- Money comes in integer cents (parts' and PO items' `unitCost`, items' `price`) and becomes a
  decimal string in the currency's units.
- The rate limit (100 requests a minute per user) is honoured from the `X-Rate-Limit-*` headers
  by the toolkit's budget; the pace is kept per token across runs in this process.
"""

import hashlib
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from connections.connectors.base import ConfigField, Connector, MappingError, Page, ReadRequest, UpstreamError
from connections.connectors.budget import RequestBudget
from connections.connectors.http import HeaderKeyAuth, UpstreamClient
from connections.connectors.parsing import date_out, decimal_number, decimal_string, iso_datetime, iso_out

DEFAULT_BASE_URL = "https://api.getmaintainx.com/v1"
# MaintainX allows 100 requests a minute per user; 10 are left for the customer's other tools
# on the same key and for requests in flight when a minute turns.
DEFAULT_REQUESTS_PER_MINUTE = 90
PAGE_LIMIT = 100  # rows per list page (MaintainX: default 100, at most 200)
PO_PAGE_LIMIT = 25  # purchase orders: each one costs a detail request, so pages stay short


# entity -> (list path, collection key, detail key, filters by updatedAt, pages by offset, sort)
RESOURCES = {
    "work_orders": ("workorders", "workOrders", "workOrder", True, False, None),
    "assets": ("assets", "assets", "asset", True, True, "id"),
    "inventory_items": ("parts", "parts", "part", True, True, "id"),
    "vendors": ("vendors", "vendors", "vendor", False, True, None),
    "locations": ("locations", "locations", "location", False, True, None),
    "purchase_orders": ("purchaseorders", "purchaseOrders", "purchaseOrder", True, True, "id"),
}

WORK_ORDER_STATUS = {"OPEN": "open", "IN_PROGRESS": "in_progress", "ON_HOLD": "on_hold", "DONE": "completed",
                     "CANCELED": "cancelled", "SKIPPED": "cancelled"}
PRIORITY = {"NONE": "none", "LOW": "low", "MEDIUM": "medium", "HIGH": "high"}
# Work order categories (an organization's own list) that name a unified type.
CATEGORY_TYPE = {"preventive": "preventive", "corrective": "corrective", "damage": "corrective",
                 "inspection": "inspection", "emergency": "emergency"}
PO_STATUS = {"REQUESTED": "pending_approval", "PENDING": "pending_approval", "APPROVED": "approved",
             "DECLINED": "cancelled", "PARTIALLY_FULFILLED": "partially_received", "COMPLETED": "received",
             "CANCELED": "cancelled"}
ASSET_STATUS = {"ONLINE": "operational", "OFFLINE": "down"}


# --- wire values --------------------------------------------------------------------------------


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _id(value) -> str | None:
    """An id MaintainX sends as an integer (or a string), as the unified text; empty is None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        return str(value)
    raise MappingError(f"not an id: {value!r}")


def _row_id(row) -> str | None:
    """A list row's id for paging bookkeeping; None when it has none (mapping reports that)."""
    try:
        return _id(row.get("id")) if isinstance(row, dict) else None
    except MappingError:
        return None


def _moment(value) -> str | None:
    return iso_out(iso_datetime(value))


def _date(value) -> str | None:
    """A MaintainX date-time (due dates are date-times) as the date it falls on in UTC."""
    return date_out(iso_datetime(value))


def _cents(value, field: str) -> Decimal | None:
    """Integer cents as a Decimal amount (435 -> 4.35); floats refused as everywhere."""
    try:
        number = decimal_number(value)
    except MappingError as exc:
        raise MappingError(f"{field}: {exc}") from None
    return None if number is None else number.scaleb(-2)


def _quantity(value, field: str) -> str | None:
    try:
        return decimal_string(value, trim=True)
    except MappingError as exc:
        raise MappingError(f"{field}: {exc}") from None


def _name(value) -> str | None:
    """A name sent as text or as a small object ({"name": ...}, e.g. a manufacturer)."""
    if isinstance(value, dict):
        return _text(value.get("name"))
    return _text(value)


def _person(assignee: dict) -> str | None:
    if not isinstance(assignee, dict):
        return None
    full = " ".join(p for p in (_text(assignee.get("firstName")), _text(assignee.get("lastName"))) if p)
    return full or _text(assignee.get("name")) or (
        f"{str(assignee.get('type', 'user')).lower()}:{assignee['id']}" if assignee.get("id") is not None else None)


def _ref(remote_id, name=None) -> dict | None:
    remote_id = _id(remote_id)
    return {"remote_id": remote_id, "name": _name(name)} if remote_id else None


def maintainx_error_message(response) -> str | None:
    """MaintainX's error bodies: {"error": "..."} or {"errors": [{"error": "..."}]}."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    messages = []
    if isinstance(body.get("error"), str):
        messages.append(body["error"])
    for item in body.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("error"), str):
            messages.append(item["error"])
    messages = [m.strip() for m in messages if m.strip()]
    if not messages:
        return None
    message = "MaintainX: " + "; ".join(messages)
    if response.status_code == 400 and "organization" in message.lower():
        message += (" - this API key belongs to several organizations: set the connection's Organization ID"
                    " (MaintainX: Settings > Organization)")
    return message


# --- the pace kept per token ----------------------------------------------------------------------

_PACE: dict[str, float] = {}  # token key -> the earliest time of its next request (this process)


class _TokenBudget(RequestBudget):
    """The toolkit's budget, with the pace it learns from X-Rate-Limit-* kept per API key and
    organization rather than per run: MaintainX counts per user, so a run that starts right after
    another must not spend the quota the last one had left at zero."""

    def __init__(self, *, token_key: str, **kwargs):
        self._token_key = token_key
        super().__init__(**kwargs)

    @property
    def _not_before(self) -> float:
        return _PACE.get(self._token_key, 0.0)

    @_not_before.setter
    def _not_before(self, value: float) -> None:
        _PACE[self._token_key] = max(_PACE.get(self._token_key, 0.0), value)


# --- the connector ------------------------------------------------------------------------------


class MaintainXConnector(Connector):
    key = "maintainx"
    check_entity = "work_orders"
    name = "MaintainX"
    category = "cmms"
    description = ("Work orders, assets, parts, vendors, locations and purchase orders through MaintainX's public "
                   "REST API, with an API key.")
    entities = ("work_orders", "assets", "inventory_items", "vendors", "locations", "purchase_orders")
    config_fields = (
        ConfigField("base_url", "API URL", "url", default=DEFAULT_BASE_URL,
                    help="MaintainX's API root; change it only for a proxy or a test system.",
                    example=DEFAULT_BASE_URL),
        ConfigField("organization_id", "Organization ID", "string",
                    help="Needed when the API key belongs to several organizations (sent as x-organization-id).",
                    example="123456"),
        ConfigField("requests_per_minute", "Requests per minute", "integer", default=DEFAULT_REQUESTS_PER_MINUTE,
                    min_value=1, max_value=100000,
                    help="Shared by every sync of this connection; MaintainX allows 100 a minute per user."),
    )
    credential_fields = (
        ConfigField("api_key", "API key", "password", required=True,
                    help="Generated in MaintainX under Settings > Integrations > New Key; sent as a Bearer token."),
    )
    page_limit = PAGE_LIMIT
    po_page_limit = PO_PAGE_LIMIT

    def __init__(self, *, config: dict, credentials: dict, connection=None):
        super().__init__(config=config, credentials=credentials, connection=connection)
        self._client: UpstreamClient | None = None

    @classmethod
    def config_errors(cls, config: dict) -> dict:
        organization = config.get("organization_id")
        if isinstance(organization, str) and organization.strip() and not organization.strip().isdigit():
            return {"config.organization_id": "expected the organization's number, e.g. 123456"}
        return {}

    @classmethod
    def prepare_config(cls, config: dict) -> dict:
        prepared = {**config, "base_url": config["base_url"].rstrip("/")}
        if isinstance(prepared.get("organization_id"), str):
            prepared["organization_id"] = prepared["organization_id"].strip()
        return prepared

    @property
    def base_url(self) -> str:
        return (self.config.get("base_url") or DEFAULT_BASE_URL).rstrip("/")

    @property
    def client(self) -> UpstreamClient:
        if self._client is None:
            api_key = self.credentials.get("api_key", "")
            organization = str(self.config.get("organization_id") or "").strip()
            headers = {"x-organization-id": organization} if organization else {}
            rpm = int(self.config.get("requests_per_minute") or DEFAULT_REQUESTS_PER_MINUTE)
            self._client = UpstreamClient(
                base_url=self.base_url, auth=HeaderKeyAuth("Authorization", f"Bearer {api_key}"),
                connection_id=getattr(self.connection, "pk", None), error_message=maintainx_error_message,
                secrets=[api_key], headers=headers)
            token_key = hashlib.sha256(f"{self.base_url}|{api_key}|{organization}".encode()).hexdigest()[:24]
            self._client.budget = _TokenBudget(token_key=token_key, connection_id=self._client.connection_id,
                                               requests_per_minute=rpm)
        return self._client

    # --- reading ----------------------------------------------------------------------------

    def filters_changed_since(self, entity: str) -> bool:
        return RESOURCES[entity][3]

    def probe(self, entity: str) -> None:
        path, key, _, _, _, _ = RESOURCES[entity]
        rows = self._list(entity, {"limit": 1}).get(key) or []
        if entity == "purchase_orders" and rows and isinstance(rows[0], dict) and rows[0].get("id") is not None:
            self._detail(entity, rows[0]["id"])  # details are what a sync reads: check they may be read

    def fetch_page(self, request: ReadRequest) -> Page:
        entity = request.entity
        path, key, _, _, by_offset, _ = RESOURCES[entity]
        checkpoint = request.checkpoint or {}
        params = self._params(entity, request.since)
        cursor = checkpoint.get("cursor")
        body = self._list(entity, {**params, **({"cursor": cursor} if cursor else {})})
        rows = self._rows(entity, body)
        following = body.get("nextCursor")
        if following is not None and (not isinstance(following, str) or not following):
            following = None
        if by_offset and "previous" in checkpoint:
            # Re-read the page before: rows there this read has not seen slid back across the
            # boundary (a delete before them), and the page just read skipped them.
            previous = checkpoint["previous"]
            again = self._rows(entity, self._list(entity, {**params, **({"cursor": previous} if previous else {})}))
            known = set(checkpoint.get("previous_ids") or []) | {_row_id(r) for r in rows}
            rows = [r for r in again if _row_id(r) is not None and _row_id(r) not in known] + rows
        next_checkpoint = None
        if following:
            next_checkpoint = {"cursor": following}
            if by_offset:
                next_checkpoint.update(previous=cursor or "",
                                       previous_ids=[i for i in map(_row_id, rows) if i])
        deleted: list[str] = []
        if entity == "purchase_orders":
            rows, deleted = self._purchase_order_details(rows)
        return Page(records=rows, next_checkpoint=next_checkpoint, deleted_remote_ids=deleted)

    def _params(self, entity: str, since: datetime | None) -> dict:
        _, _, _, filters, _, sort = RESOURCES[entity]
        params: dict = {"limit": self.po_page_limit if entity == "purchase_orders" else self.page_limit}
        if sort:
            params["sort"] = sort
        if entity == "work_orders":
            params.update({"show_upcoming": "true", "expand": ["asset", "location"]})
        if since is not None and filters:
            params["updatedAt[gte]"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return params

    def _rows(self, entity: str, body) -> list:
        key = RESOURCES[entity][1]
        rows = body.get(key) if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE",
                                f"MaintainX sent no {key} list for /{RESOURCES[entity][0]}.")
        return rows

    def _purchase_order_details(self, rows: list) -> tuple[list, list[str]]:
        details, deleted = [], []
        for row in rows:
            remote_id = _row_id(row)
            if remote_id is None:
                details.append(row)  # unidentifiable: the engine counts it and skips deletion detection
                continue
            try:
                detail = self._detail("purchase_orders", remote_id)
            except UpstreamError as exc:
                if exc.code == "UPSTREAM_NOT_FOUND":  # gone since the list was read
                    deleted.append(remote_id)
                    continue
                raise
            if detail.get("deletedAt"):
                deleted.append(remote_id)
            else:
                details.append(detail)
        return details, deleted

    def _list(self, entity: str, params: dict):
        path = RESOURCES[entity][0]
        return self.client.json("GET", f"{self.base_url}/{path}", params=params, resource=f"/{path}")

    def _detail(self, entity: str, remote_id) -> dict:
        path, _, detail_key, _, _, _ = RESOURCES[entity]
        body = self.client.json("GET", f"{self.base_url}/{path}/{remote_id}", resource=f"/{path}/{{id}}")
        detail = body.get(detail_key) if isinstance(body, dict) else None
        if not isinstance(detail, dict):
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE", f"MaintainX sent no {detail_key} for /{path}/{remote_id}.")
        return detail

    # --- mapping ----------------------------------------------------------------------------

    def remote_id(self, entity: str, raw: dict) -> str:
        value = _id(raw.get("id")) if isinstance(raw, dict) else None
        if not value:
            raise MappingError(f"{entity} record without id")
        return value

    def normalize(self, entity: str, raw: dict) -> dict:
        try:
            return getattr(self, f"_norm_{entity}")(raw)
        except (KeyError, TypeError, AttributeError) as exc:
            raise MappingError(f"{entity} record {raw.get('id', '?')}: missing or bad field {exc}") from exc

    @staticmethod
    def _times(raw: dict) -> tuple[str | None, str]:
        created = _moment(raw.get("createdAt"))
        updated = _moment(raw.get("updatedAt")) or created  # vendors have no updatedAt
        if updated is None:
            raise MappingError("neither updatedAt nor createdAt is set")
        return created, updated

    def _norm_work_orders(self, raw: dict) -> dict:
        created_at, updated_at = self._times(raw)
        status = _text(raw.get("status"))
        priority = _text(raw.get("priority"))
        categories = [c for c in (raw.get("categories") or []) if isinstance(c, str)]
        kind = next((CATEGORY_TYPE[c.lower()] for c in categories if c.lower() in CATEGORY_TYPE), "other")
        asset = raw.get("asset") if isinstance(raw.get("asset"), dict) else {}
        location = raw.get("location") if isinstance(raw.get("location"), dict) else {}
        people = [p for p in (_person(a) for a in raw.get("assignees") or []) if p]
        users = [p for a, p in zip(raw.get("assignees") or [], (_person(a) for a in raw.get("assignees") or []),
                                   strict=True) if p and isinstance(a, dict) and a.get("type") == "USER"]
        estimated = raw.get("estimatedTime")
        if estimated is not None:
            seconds = decimal_number(estimated)
            estimated = decimal_string((seconds / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
                                       trim=True) if seconds is not None else None
        sequential = raw.get("sequentialId")
        return {
            "remote_id": _id(raw["id"]), "number": _id(sequential) or _id(raw["id"]), "upstream_status": status,
            "created_at": created_at, "updated_at": updated_at,
            "title": _text(raw.get("title")), "description": _text(raw.get("description")),
            "status": WORK_ORDER_STATUS.get(status or "", "open"),
            "priority": PRIORITY.get(priority or "", None if priority is None else "medium"),
            "type": kind,
            "asset": _ref(raw.get("assetId", asset.get("id")), asset.get("name")),
            "location": _ref(raw.get("locationId", location.get("id")), location.get("name")),
            "assigned_to": (users or people or [None])[0], "assignees": people, "site": None,
            "due_date": _date(raw.get("dueDate")), "scheduled_start": _moment(raw.get("startDate")),
            "scheduled_end": None, "started_at": None, "completed_at": _moment(raw.get("completedAt")),
            "estimated_hours": estimated, "actual_hours": None, "actual_cost": None, "failure_code": None,
            "parent": {"remote_id": _id(raw["parentId"])} if _id(raw.get("parentId")) else None,
            "custom_fields": {name: raw[name] for name in ("categories", "extraFields")
                              if raw.get(name) not in (None, [], {})},
        }

    def _norm_assets(self, raw: dict) -> dict:
        created_at, updated_at = self._times(raw)
        status = _text(raw.get("status"))
        types = [t for t in (raw.get("assetTypes") or []) if isinstance(t, str)]
        return {
            "remote_id": _id(raw["id"]), "number": _text(raw.get("barcode")), "upstream_status": status,
            "created_at": created_at, "updated_at": updated_at,
            "name": _text(raw.get("name")), "description": _text(raw.get("description")),
            "status": ASSET_STATUS.get(status or ""), "site": None, "category": types[0] if types else None,
            "location": _ref(raw.get("locationId")),
            "parent": {"remote_id": _id(raw["parentId"])} if _id(raw.get("parentId")) else None,
            "serial_number": _text(raw.get("serialNumber")), "manufacturer": _name(raw.get("manufacturer")),
            "model": _name(raw.get("model")),
            "custom_fields": {name: raw[name] for name in ("assetTypes", "extraFields")
                              if raw.get(name) not in (None, [], {})},
        }

    def _norm_inventory_items(self, raw: dict) -> dict:
        created_at, updated_at = self._times(raw)
        location = _ref(raw.get("locationId"))
        on_hand = _quantity(raw.get("availableQuantity"), "availableQuantity")
        return {
            "remote_id": _id(raw["id"]), "number": _text(raw.get("barcode")), "upstream_status": None,
            "created_at": created_at, "updated_at": updated_at,
            "code": _text(raw.get("barcode")), "name": _text(raw.get("name")),
            "description": _text(raw.get("description")), "status": "active", "unit_of_measure": None,
            "quantity_on_hand": on_hand, "minimum_quantity": _quantity(raw.get("minimumQuantity"), "minimumQuantity"),
            "unit_cost": decimal_string(_cents(raw.get("unitCost"), "unitCost")), "currency": None,
            "location": location, "site": None,
            "stock": [{"location": location, "quantity_on_hand": on_hand, "bin": _text(raw.get("area"))}]
            if location and on_hand is not None else [],
            "custom_fields": {name: raw[name] for name in ("area", "extraFields")
                              if raw.get(name) not in (None, "", {})},
        }

    def _norm_vendors(self, raw: dict) -> dict:
        created_at, updated_at = self._times(raw)
        return {
            "remote_id": _id(raw["id"]), "number": None, "upstream_status": None,
            "created_at": created_at, "updated_at": updated_at,
            "name": _text(raw.get("name")), "code": None, "email": _text(raw.get("email")),
            "phone": _text(raw.get("phoneNumber")), "address": None, "currency": None, "status": "active",
            "tax_id": None,
            "custom_fields": {name: raw[name] for name in ("description", "extraFields")
                              if raw.get(name) not in (None, "", {})},
        }

    def _norm_locations(self, raw: dict) -> dict:
        created_at, updated_at = self._times(raw)
        address = _text(raw.get("address"))
        return {
            "remote_id": _id(raw["id"]), "number": _text(raw.get("barcode")), "upstream_status": None,
            "created_at": created_at, "updated_at": updated_at,
            "name": _text(raw.get("name")), "code": _text(raw.get("barcode")), "status": "active",
            "parent": {"remote_id": _id(raw["parentId"])} if _id(raw.get("parentId")) else None,
            "address": {"line1": address, "line2": None, "city": None, "region": None, "postal_code": None,
                        "country": None} if address else None,
            "custom_fields": {name: raw[name] for name in ("description", "extraFields")
                              if raw.get(name) not in (None, "", {})},
        }

    def _norm_purchase_orders(self, raw: dict) -> dict:
        created_at, updated_at = self._times(raw)
        status = _text(raw.get("status"))
        unified = PO_STATUS.get(status or "", "open")
        lines = [self._po_line(n, item, unified) for n, item in enumerate(raw.get("items") or [], start=1)]
        amounts = [Decimal(line["amount"]) for line in lines if line["amount"] is not None]
        return {
            "remote_id": _id(raw["id"]),
            "number": _text(raw.get("overrideNumber")) or _text(raw.get("autoGeneratedNumber")),
            "upstream_status": status, "created_at": created_at, "updated_at": updated_at, "status": unified,
            "vendor": _ref(raw.get("vendorId")), "order_date": None, "required_date": _date(raw.get("dueDate")),
            "currency": None, "subtotal": decimal_string(sum(amounts, Decimal("0.00"))) if lines else None,
            "tax": None, "total": None, "payment_terms": None, "ship_to": None, "bill_to": None,
            "organization": None, "buyer": None, "lines": lines,
            "custom_fields": {name: raw[name] for name in ("title", "note", "autoGeneratedNumber", "extraFields")
                              if raw.get(name) not in (None, "", {})},
        }

    @staticmethod
    def _po_line(number: int, item: dict, order_status: str) -> dict:
        where = f"item {item.get('id', number)}"
        ordered = decimal_number(_quantity(item.get("quantityOrdered"), f"{where} quantityOrdered"))
        received = decimal_number(_quantity(item.get("quantityReceived"), f"{where} quantityReceived"))
        unit_cost = _cents(item.get("unitCost"), f"{where} unitCost")
        price = _cents(item.get("price"), f"{where} price")
        amount = price if price is not None else (
            (unit_cost * ordered).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if unit_cost is not None and ordered is not None else None)
        if order_status == "cancelled":
            status = "cancelled"
        elif received and ordered is not None and received >= ordered:
            status = "received"
        elif received:
            status = "partially_received"
        else:
            status = "open"
        part = _id(item.get("partId"))
        return {"line_number": number, "item_code": None,
                "item": {"remote_id": part, "code": None} if part else None,
                "description": _text(item.get("name")),
                "quantity": decimal_string(ordered, trim=True), "unit_of_measure": None,
                "unit_price": decimal_string(unit_cost), "amount": decimal_string(amount), "tax_amount": None,
                "quantity_received": decimal_string(received, trim=True), "delivery_date": None, "status": status,
                "account": None}
