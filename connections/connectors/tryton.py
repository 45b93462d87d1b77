"""Tryton 8.x over JSON-RPC (docs/connectors/tryton.md).

Every call is `POST <url>/<database>/rpc/` with `{"id", "method", "params"}`. The connector logs in
with `common.db.login` and sends `Authorization: Session base64(login:user_id:session)`; a session
that expires mid-run answers 401 and the toolkit's SessionAuth logs in again once. Errors raised
by a model method come back with HTTP 200 and an `error` key; protocol-level refusals (a wrong
password, an unknown method, too many logins) are HTTP statuses. Records are read with
`search_read`, ordered by id and paged on `id > last id` (stable under concurrent deletes), with
archived rows included (`active_test: false`) so archiving shows as `inactive`, not as a deletion.
"""

import base64
import itertools
from decimal import Decimal
from urllib.parse import quote

from connections.connectors.base import ConfigField, Connector, MappingError, Page, ReadRequest, UpstreamError
from connections.connectors.http import SessionAuth, UpstreamClient
from connections.connectors.parsing import (
    date_out,
    decimal_number,
    decimal_string,
    decimal_sum,
    iso_datetime,
    iso_out,
    tryton_out,
    tryton_value,
)

PAGE_SIZE = 200
LINE_BATCH = 500  # purchase.line ids read per call
DEFAULT_REQUESTS_PER_MINUTE = 300

# Tryton purchase state -> unified purchase order status (docs/connectors/tryton.md, "Statuses").
PURCHASE_STATUS = {"draft": "draft", "quotation": "pending_approval", "confirmed": "approved",
                   "processing": "open", "done": "closed", "cancelled": "cancelled"}

PARTY_FIELDS = ["id", "name", "code", "email", "phone", "active", "tax_identifier.code", "addresses",
                "supplier_currency.code", "lang.code", "create_date", "write_date"]
ADDRESS_FIELDS = ["id", "party", "street", "city", "postal_code", "subdivision.name", "country.code", "sequence"]
LOCATION_FIELDS = ["id", "name", "code", "type", "active", "parent", "address", "create_date", "write_date"]
PRODUCT_FIELDS = ["id", "code", "name", "description", "active", "type", "default_uom.symbol", "cost_price",
                  "list_price", "template", "create_date", "write_date"]
PURCHASE_FIELDS = ["id", "number", "reference", "description", "state", "purchase_date", "delivery_date",
                   "party", "party.rec_name", "currency.code", "untaxed_amount", "tax_amount", "total_amount",
                   "payment_term.name", "company", "company.rec_name", "warehouse.rec_name",
                   "invoice_address.full_address", "invoice_method", "shipment_state", "invoice_state",
                   "contact.rec_name", "lines", "create_date", "write_date"]
LINE_FIELDS = ["id", "purchase", "sequence", "type", "product", "product.code", "description", "quantity",
               "unit", "unit.symbol", "unit_price", "amount", "delivery_date", "moves_exception",
               "moves_progress", "create_date", "write_date"]

# Per entity: the Tryton model, the fields read, and whether the full read is limited to the
# history window (transactional documents) or reads every row (master data).
MODELS = {
    "vendors": ("party.party", PARTY_FIELDS, False),
    "locations": ("stock.location", LOCATION_FIELDS, False),
    "inventory_items": ("product.product", PRODUCT_FIELDS, False),
    "purchase_orders": ("purchase.purchase", PURCHASE_FIELDS, True),
}


def _decimal(value) -> str | None:
    """A Tryton number as a decimal string: Decimal fields come as {"__class__": "Decimal"} objects,
    Float fields (quantities) as JSON numbers, which the JSON parser reads as float: their shortest
    text is the number Tryton wrote."""
    value = tryton_value(value)
    return decimal_string(repr(value) if isinstance(value, float) else value)


def _text(value) -> str | None:
    if value is None or value is False:
        return None
    text = str(value).strip()
    return text or None


def _nested(raw: dict, name: str):
    """A dotted field read with search_read: `party.rec_name` comes as raw["party."]["rec_name"]."""
    head, _, tail = name.partition(".")
    value = raw.get(f"{head}.")
    return value.get(tail) if isinstance(value, dict) else None


class TrytonConnector(Connector):
    key = "tryton"
    name = "Tryton"
    category = "erp"
    description = "Tryton ERP 8.x over JSON-RPC: purchases, parties, products with stock, stock locations."
    entities = ("vendors", "locations", "inventory_items", "purchase_orders")
    config_fields = (
        ConfigField("url", "Server URL", "url", required=True, example="https://erp.example.com/",
                    help="The root of the Tryton server, as the Tryton client connects to it."),
        ConfigField("database", "Database", required=True, example="production",
                    help="The Tryton database name."),
        ConfigField("requests_per_minute", "Requests per minute", "integer", default=DEFAULT_REQUESTS_PER_MINUTE,
                    min_value=1, max_value=100000,
                    help="Shared by every sync of this connection."),
    )
    credential_fields = (
        ConfigField("username", "User", required=True, help="A Tryton user with read access (see the docs)."),
        ConfigField("password", "Password", "password", required=True),
    )

    def __init__(self, *, config: dict, credentials: dict, connection=None):
        super().__init__(config=config, credentials=credentials, connection=connection)
        self.base_url = str(self.config.get("url") or "").rstrip("/") + "/"
        self.database = str(self.config.get("database") or "")
        self.path = f"{quote(self.database, safe='')}/rpc/"
        self._ids = itertools.count(1)
        self._client: UpstreamClient | None = None
        self._warehouses: list[dict] | None = None
        self._context: dict | None = None

    # --- the protocol ------------------------------------------------------------------------

    @property
    def client(self) -> UpstreamClient:
        if self._client is None:
            self._client = UpstreamClient(
                base_url=self.base_url, auth=SessionAuth(self._login),
                connection_id=getattr(self.connection, "id", None),
                requests_per_minute=int(self.config.get("requests_per_minute") or DEFAULT_REQUESTS_PER_MINUTE),
                secrets=[self.credentials.get("password") or ""])
        return self._client

    def _login(self, client: UpstreamClient) -> str:
        username = str(self.credentials.get("username") or "")
        body = {"id": next(self._ids), "method": "common.db.login",
                "params": [username, {"password": self.credentials.get("password") or ""}, "en"]}
        response = client.exchange("POST", self.path, json=body, authenticate=False, raise_for_status=False)
        if response.status_code in (401, 403):
            raise UpstreamError("UPSTREAM_AUTHENTICATION_FAILED",
                                f"Tryton refused the login of user {username!r} on database {self.database!r} "
                                f"(HTTP {response.status_code}): check the user name and password.",
                                details={"status": response.status_code})
        if response.status_code == 404:
            raise UpstreamError("UPSTREAM_NOT_FOUND", f"Tryton has no database {self.database!r} at this URL "
                                "(or TRYTOND_DATABASE_NAMES does not list it).", details={"status": 404})
        client.raise_for_status(response, resource="common.db.login")
        result = self._result(client, response, "common.db.login")
        try:
            user_id, session = int(result[0]), str(result[1])
        except (TypeError, ValueError, IndexError):
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE", "Tryton's login answered without a session.",
                                details={"body": client.snippet(response)}) from None
        token = base64.b64encode(f"{username}:{user_id}:{session}".encode()).decode()
        return f"Session {token}"

    def call(self, method: str, *params):
        response = self.client.request("POST", self.path, json={"id": next(self._ids), "method": method,
                                                                "params": list(params)}, resource=method)
        return self._result(self.client, response, method)

    def _result(self, client: UpstreamClient, response, method: str):
        try:
            body = response.json()
        except ValueError:
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE", f"Tryton answered {method} with something not JSON.",
                                details={"status": response.status_code, "body": client.snippet(response)}) from None
        if not isinstance(body, dict) or not ("result" in body or "error" in body):
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE", f"Tryton answered {method} without a result.",
                                details={"body": client.snippet(response)})
        if body.get("error") is not None:
            raise self._error(client, method, body["error"])
        return body["result"]

    @staticmethod
    def _error(client: UpstreamClient, method: str, error) -> UpstreamError:
        """A Tryton error in a 200 body: [exception name, args] for Tryton's own exceptions,
        [message, traceback] for a crash."""
        kind = error[0] if isinstance(error, list) and error else str(error)
        args = error[1] if isinstance(error, list) and len(error) > 1 else None
        if kind in ("UserError", "UserWarning", "LoginException") and isinstance(args, list) and args:
            message = " - ".join(str(a) for a in args[:2] if a) if kind == "UserError" else str(args[1])
            lowered = message.lower()
            if kind == "LoginException":
                code = "UPSTREAM_AUTHENTICATION_FAILED"
            elif "not allowed" in lowered or "access" in lowered and "denied" in lowered:
                code = "UPSTREAM_PERMISSION_DENIED"
            else:
                code = "UPSTREAM_REQUEST_REJECTED"
            return UpstreamError(code, client.redact(f"Tryton refused {method}: {message}")[:500],
                                 details={"method": method, "tryton_error": kind})
        if kind == "ConcurrencyException":
            return UpstreamError("UPSTREAM_SERVER_ERROR", f"Tryton reported a concurrent change during {method}.",
                                 details={"method": method, "tryton_error": kind})
        return UpstreamError("UPSTREAM_SERVER_ERROR", client.redact(f"Tryton failed on {method}: {kind}")[:500],
                             details={"method": method})

    def preferences(self) -> dict:
        """The user's context (company, language), as every Tryton client sends it: company-dependent
        values such as a product's cost price read empty without it."""
        if self._context is None:
            self._context = self.call("model.res.user.get_preferences", True, {})
        return self._context

    def model(self, model: str, method: str, *params, context: dict | None = None):
        context = {**self.preferences(), "active_test": False, **(context or {})}
        return self.call(f"model.{model}.{method}", *params, context)

    def search_read(self, model: str, domain: list, fields: list[str], *, limit: int | None = None,
                    context: dict | None = None) -> list[dict]:
        return self.model(model, "search_read", domain, 0, limit, [["id", "ASC"]], fields, context=context)

    def read(self, model: str, ids: list[int], fields: list[str], *, context: dict | None = None) -> list[dict]:
        rows = []
        for start in range(0, len(ids), LINE_BATCH):
            rows.extend(self.model(model, "read", ids[start:start + LINE_BATCH], fields, context=context))
        return rows

    # --- the contract ------------------------------------------------------------------------

    def check(self) -> None:
        self._context = None
        self.preferences()

    def probe(self, entity: str) -> None:
        model, _, _ = MODELS[entity]
        self.search_read(model, [], ["id"], limit=1)

    def filters_changed_since(self, entity: str) -> bool:
        return True

    def _domain(self, request: ReadRequest) -> list:
        model, _, windowed = MODELS[request.entity]
        threshold = request.since or (request.window_start if windowed else None)
        if threshold is None:
            return []
        when = tryton_out(threshold)
        clauses = [[["write_date", ">=", when]], [["create_date", ">=", when]]]
        if request.entity == "purchase_orders":
            # A line written on its own (not through its purchase) leaves the header's write_date.
            clauses += [[["lines.write_date", ">=", when]], [["lines.create_date", ">=", when]]]
        return ["OR", *clauses]

    def fetch_page(self, request: ReadRequest) -> Page:
        if request.entity not in MODELS:
            raise UpstreamError("UPSTREAM_REQUEST_REJECTED", f"The tryton connector does not read {request.entity}.")
        model, fields, _ = MODELS[request.entity]
        domain = self._domain(request)
        after = int(request.checkpoint.get("after", 0))
        total = None
        if "after" not in request.checkpoint:
            total = self.model(model, "search_count", domain)
        page_domain = [*([domain] if domain else []), ["id", ">", after]]
        rows = self.search_read(model, page_domain, fields, limit=PAGE_SIZE)
        if rows:
            getattr(self, f"_attach_{request.entity}", lambda rows: None)(rows)
        next_checkpoint = {"after": rows[-1]["id"]} if len(rows) == PAGE_SIZE else None
        # The Decimals of quantity_received are stored as their text by the page writer.
        return Page(records=rows, next_checkpoint=next_checkpoint, total=total)

    # --- what a page needs besides its rows --------------------------------------------------

    def _attach_vendors(self, rows: list[dict]) -> None:
        ids = [a for row in rows for a in (row.get("addresses") or [])]
        addresses = {a["id"]: a for a in self.read("party.address", ids, ADDRESS_FIELDS)} if ids else {}
        for row in rows:
            found = [addresses[a] for a in row.get("addresses") or [] if a in addresses]
            row["addresses"] = sorted(found, key=lambda a: (a.get("sequence") is None, a.get("sequence") or 0,
                                                            a["id"]))

    def warehouses(self) -> list[dict]:
        if self._warehouses is None:
            self._warehouses = self.model("stock.location", "search_read", [["type", "=", "warehouse"]], 0, None,
                                          [["id", "ASC"]], ["id", "name", "code"], context={"active_test": True})
        return self._warehouses

    def _attach_inventory_items(self, rows: list[dict]) -> None:
        ids = [row["id"] for row in rows]
        stock = {row["id"]: [] for row in rows}
        for warehouse in self.warehouses():
            quantities = self.read("product.product", ids, ["id", "quantity"],
                                   context={"locations": [warehouse["id"]], "with_childs": True})
            for q in quantities:
                stock[q["id"]].append({"location": {"id": warehouse["id"], "name": warehouse["name"]},
                                       "quantity": q["quantity"]})
        for row in rows:
            row["stock"] = stock[row["id"]]

    def _attach_purchase_orders(self, rows: list[dict]) -> None:
        ids = [line for row in rows for line in row.get("lines") or []]
        lines = {line["id"]: line for line in self.read("purchase.line", ids, LINE_FIELDS)} if ids else {}
        received = self._received(list(lines)) if lines else {}
        for line in lines.values():
            line["quantity_received"] = received.get(line["id"])
        for row in rows:
            row["lines"] = [lines[i] for i in row.get("lines") or [] if i in lines]

    def _received(self, line_ids: list[int]) -> dict[int, Decimal]:
        """Quantity received per line: its done stock moves (purchase moves are in the line's unit)."""
        received: dict[int, Decimal] = {i: Decimal(0) for i in line_ids}
        for start in range(0, len(line_ids), LINE_BATCH):
            origins = [f"purchase.line,{i}" for i in line_ids[start:start + LINE_BATCH]]
            moves = self.model("stock.move", "search_read", [["origin", "in", origins], ["state", "=", "done"]],
                               0, None, [["id", "ASC"]], ["id", "origin", "quantity", "from_location.type"])
            for move in moves:
                line_id = int(str(move["origin"]).split(",")[1])
                quantity = decimal_number(_decimal(move["quantity"]))
                # A return to the supplier takes back what was received.
                sign = -1 if _nested(move, "from_location.type") != "supplier" else 1
                received[line_id] += sign * quantity
        return received

    # --- normalization -----------------------------------------------------------------------

    def remote_id(self, entity: str, raw: dict) -> str:
        if not isinstance(raw.get("id"), int):
            raise MappingError(f"{entity} record without an id")
        return str(raw["id"])

    def normalize(self, entity: str, raw: dict) -> dict:
        try:
            plain = tryton_value(raw)
            unified = getattr(self, f"_norm_{entity}")(plain)
            created = iso_datetime(plain["create_date"])
            updated = max(t for t in (created, iso_datetime(plain.get("write_date")), unified.pop("_updated", None))
                          if t is not None)
            unified.update(remote_id=str(raw["id"]), created_at=iso_out(created), updated_at=iso_out(updated))
            return unified
        except MappingError as exc:
            raise MappingError(f"{entity} record {raw.get('id', '?')}: {exc}") from exc
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise MappingError(f"{entity} record {raw.get('id', '?')}: missing or bad field {exc!r}") from exc

    @staticmethod
    def _status(active) -> tuple[str, str]:
        return ("active", "active") if active else ("inactive", "archived")

    def _norm_vendors(self, raw):
        address = raw["addresses"][0] if raw["addresses"] else None
        status, upstream_status = self._status(raw["active"])
        return {"number": _text(raw["code"]), "name": _text(raw["name"]), "code": _text(raw["code"]),
                "email": _text(raw["email"]), "phone": _text(raw["phone"]),
                "address": self._address(address),
                "currency": _text(_nested(raw, "supplier_currency.code")), "status": status,
                "upstream_status": upstream_status, "tax_id": _text(_nested(raw, "tax_identifier.code")),
                "custom_fields": {"language": _text(_nested(raw, "lang.code"))}}

    @staticmethod
    def _address(address: dict | None) -> dict | None:
        if not address:
            return None
        street = [s.strip() for s in (address.get("street") or "").splitlines() if s.strip()]
        unified = {"line1": street[0] if street else None, "line2": ", ".join(street[1:]) or None,
                "city": _text(address["city"]), "region": _text(_nested(address, "subdivision.name")),
                "postal_code": _text(address["postal_code"]), "country": _text(_nested(address, "country.code"))}
        return unified if any(unified.values()) else None  # Tryton gives every party an empty address

    def _norm_locations(self, raw):
        status, upstream_status = self._status(raw["active"])
        return {"number": _text(raw["code"]), "name": _text(raw["name"]), "code": _text(raw["code"]),
                "status": status, "upstream_status": upstream_status,
                "parent": {"remote_id": str(raw["parent"])} if raw["parent"] else None,
                "address": None, "custom_fields": {"type": raw["type"], "address_id": raw["address"]}}

    def _norm_inventory_items(self, raw):
        status, upstream_status = self._status(raw["active"])
        stock = [{"location": {"remote_id": str(s["location"]["id"]), "name": s["location"]["name"]},
                  "quantity_on_hand": _decimal(s["quantity"]), "bin": None} for s in raw["stock"]]
        total = decimal_sum(s["quantity_on_hand"] for s in stock)
        main = stock[0]["location"] if len(stock) == 1 else None
        return {"number": _text(raw["code"]), "code": _text(raw["code"]), "name": _text(raw["name"]),
                "description": _text(raw["description"]), "status": status, "upstream_status": upstream_status,
                "unit_of_measure": _text(_nested(raw, "default_uom.symbol")),
                "quantity_on_hand": decimal_string(total), "minimum_quantity": None,
                "unit_cost": decimal_string(raw["cost_price"]), "currency": None, "location": main, "site": None,
                "stock": stock, "custom_fields": {"type": raw["type"], "template_id": raw["template"],
                                                  "list_price": decimal_string(raw["list_price"])}}

    def _norm_purchase_orders(self, raw):
        state = raw["state"]
        lines = [self._line(line, state, n) for n, line in enumerate(raw["lines"], 1) if line["type"] == "line"]
        status = PURCHASE_STATUS[state]
        if state == "processing":
            received = [line["quantity_received"] for line in lines]
            if lines and all(line["status"] == "received" for line in lines):
                status = "received"
            elif any(r is not None and decimal_number(r) > 0 for r in received):
                status = "partially_received"
        line_times = [iso_datetime(line.get(k)) for line in raw["lines"] for k in ("create_date", "write_date")]
        return {"number": _text(raw["number"]), "status": status, "upstream_status": state,
                "vendor": {"remote_id": str(raw["party"]), "name": _nested(raw, "party.rec_name")}
                if raw["party"] else None,
                "order_date": date_out(raw["purchase_date"]), "required_date": date_out(raw["delivery_date"]),
                "currency": _text(_nested(raw, "currency.code")), "subtotal": decimal_string(raw["untaxed_amount"]),
                "tax": decimal_string(raw["tax_amount"]), "total": decimal_string(raw["total_amount"]),
                "payment_terms": _text(_nested(raw, "payment_term.name")),
                "ship_to": _text(_nested(raw, "warehouse.rec_name")),
                "bill_to": _text(" ".join((_nested(raw, "invoice_address.full_address") or "").split())),
                "organization": {"code": str(raw["company"]), "name": _nested(raw, "company.rec_name")}
                if raw["company"] else None,
                "buyer": _text(_nested(raw, "contact.rec_name")), "lines": lines,
                "custom_fields": {"reference": _text(raw["reference"]), "description": _text(raw["description"]),
                                  "invoice_method": raw["invoice_method"], "shipment_state": raw["shipment_state"],
                                  "invoice_state": raw["invoice_state"]},
                "_updated": max((t for t in line_times if t is not None), default=None)}

    @staticmethod
    def _line(line: dict, purchase_state: str, position: int) -> dict:
        quantity = _decimal(line["quantity"])
        received_text = _decimal(line.get("quantity_received"))
        received = decimal_number(received_text)
        if purchase_state == "cancelled":
            status = "cancelled"
        elif received is not None and quantity is not None and received >= decimal_number(quantity) > 0:
            status = "received"
        elif received:
            status = "partially_received"
        elif purchase_state == "done":
            status = "closed"
        else:
            status = "open"
        code = _text(_nested(line, "product.code"))
        # Tryton's sequence orders the lines and is often unset: the position then.
        return {"line_number": line["sequence"] if isinstance(line["sequence"], int) else position,
                "item_code": code,
                "item": {"remote_id": str(line["product"]), "code": code} if line["product"] else None,
                "description": _text(line["description"]), "quantity": quantity,
                "unit_of_measure": _text(_nested(line, "unit.symbol")),
                "unit_price": decimal_string(line["unit_price"]), "amount": decimal_string(line["amount"]),
                "tax_amount": None, "quantity_received": received_text,
                "delivery_date": date_out(line["delivery_date"]), "status": status, "account": None}
