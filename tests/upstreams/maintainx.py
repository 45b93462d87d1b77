"""A loopback simulator of MaintainX's public REST API v1, written from MaintainX's API reference
(and, where it is silent, from ../shared/connectors-api-notes.md; docs/connectors/maintainx.md
says which is which).

A real HTTP server (http.server on 127.0.0.1). It serves, under `/v1`:

- lists `/workorders`, `/assets`, `/parts`, `/vendors`, `/locations`, `/purchaseorders`, each as
  `{"<collection>": [...], "nextCursor": "..." | null, "nextPageUrl": "..." | null}` with `cursor`
  and `limit` (default 100, at most 200: more is 400);
- details `/<list>/{id}`, wrapped as `{"workOrder": {...}}`, `{"purchaseOrder": {...}}`...; a
  soft-deleted row is still served by its detail, with `deletedAt`.

Quirks, as documented or reported:

- `Authorization: Bearer <token>`; anything else is 401 `{"error": "..."}`. A token of several
  organizations needs `x-organization-id` (400 without it; 403 for an organization it lacks).
- Cursors are opaque base64. Work orders page by id (a cursor holds the last id), every other
  collection by OFFSET (a cursor holds the position), so a row deleted during a read shifts the
  rows after it back by one: the row that was first on the next page is then never served there.
- `updatedAt[gte]` / `updatedAt[lte]` on work orders, assets, parts and purchase orders; vendors
  and locations take no filter, and vendors have no `updatedAt`. `sort` on assets, parts and
  purchase orders: `id`, `createdAt`, `updatedAt` (a `-` for descending); default order is by id.
- Work orders whose `startDate` lies in the future are left out unless `show_upcoming=true`; a
  list row carries `assetId`/`asset` and `location` only with `expand=asset` / `expand=location`.
- Purchase order list rows carry id, status, createdAt and updatedAt only; the detail has the
  rest, with `items[]` whose `unitCost` and `price` are integer cents. Parts' `unitCost` too.
- Soft deletes: a deleted row vanishes from lists; its detail shows `deletedAt`.
- Rate limit: `rate_limit` requests per `rate_window` seconds per token (100 per 60 s by
  default), a fixed window starting with its first request. Every response carries
  `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` (seconds until the
  window resets, rounded up); past the limit the answer is 429 `{"error": "..."}`.

Tests change data through `MaintainXSimulator.data` (`change`, `add`, `delete`) and run a hook
between two page requests of one list (`between_pages`). `requests` records every request.

Run by hand: `python -m tests.upstreams.maintainx --port 8766` prints the URL and API key.
"""

import argparse
import base64
import copy
import json
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.upstreams.server import LoopbackHandler, LoopbackSimulator

API_KEY = "mx-test-3f9c2a7e81b04d6a"
MULTI_ORG_KEY = "mx-multi-77d1e0c4a9b2"
ORGANIZATION_ID = 4711
OTHER_ORGANIZATION_ID = 4712
DEFAULT_LIMIT, MAX_LIMIT = 100, 200

# list path -> (collection key, detail key, paging kind, filters by updatedAt, sortable)
RESOURCES = {
    "workorders": ("workOrders", "workOrder", "id", True, False),
    "assets": ("assets", "asset", "offset", True, True),
    "parts": ("parts", "part", "offset", True, True),
    "vendors": ("vendors", "vendor", "offset", False, False),
    "locations": ("locations", "location", "offset", False, False),
    "purchaseorders": ("purchaseOrders", "purchaseOrder", "offset", True, True),
}
PO_LIST_FIELDS = ("id", "status", "createdAt", "updatedAt")


def iso(moment: datetime) -> str:
    """MaintainX writes UTC with milliseconds and Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# --- the dataset ---------------------------------------------------------------------------------


class MaintainXData:
    """Rows as MaintainX's JSON has them, per list path, by integer id."""

    def __init__(self):
        self.lock = threading.RLock()
        self.rows: dict[str, dict[int, dict]] = {path: {} for path in RESOURCES}
        self.clock = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
        self.next_id = 1000

    def now(self) -> datetime:
        """A clock that moves one second per change, so changes are ordered."""
        with self.lock:
            self.clock += timedelta(seconds=1)
            return self.clock

    def live(self, path: str) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(r) for _, r in sorted(self.rows[path].items()) if not r.get("deletedAt")]

    def get(self, path: str, row_id: int) -> dict | None:
        with self.lock:
            row = self.rows[path].get(row_id)
            return copy.deepcopy(row) if row else None

    def add(self, path: str, row: dict) -> dict:
        with self.lock:
            if "id" not in row:
                self.next_id += 1
                row = {"id": self.next_id, **row}
            stamp = iso(self.now())
            row.setdefault("createdAt", stamp)
            if path != "vendors":
                row.setdefault("updatedAt", stamp)
            self.rows[path][row["id"]] = row
            return row

    def change(self, path: str, row_id: int, **fields) -> dict:
        """A user's edit: the fields set and updatedAt moved (vendors have none to move)."""
        with self.lock:
            row = self.rows[path][row_id]
            row.update(fields)
            if path != "vendors":
                row["updatedAt"] = iso(self.now())
            return row

    def delete(self, path: str, row_id: int) -> None:
        """A soft delete: gone from lists, deletedAt on the detail."""
        with self.lock:
            row = self.rows[path][row_id]
            row["deletedAt"] = iso(self.now())
            if path != "vendors":
                row["updatedAt"] = row["deletedAt"]


def seed(data: MaintainXData, *, work_orders: int = 12, parts: int = 9, purchase_orders: int = 11) -> MaintainXData:
    """A fixed dataset: locations in a tree, vendors, assets, parts, work orders in every status and
    priority (one starting in the future), purchase orders in every status with items."""
    base = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    for i, (name, parent) in enumerate((("Plant Rotterdam", None), ("Hall A", 1), ("Hall B", 1),
                                        ("Storeroom 1", 2), ("Roof", 1))):
        data.add("locations", {"id": i + 1, "name": name, "description": f"{name} (site RTM)",
                               "address": "Waalhaven 12, 3089 Rotterdam" if parent is None else None,
                               "parentId": parent, "barcode": f"LOC-{i + 1:03d}",
                               "createdAt": iso(base + timedelta(hours=i)),
                               "updatedAt": iso(base + timedelta(days=1, hours=i))})
    for i, (name, email, phone) in enumerate((
            ("Bearing Supply BV", "orders@bearing-supply.example", "+31 10 555 0101"),
            ("Hydraulix GmbH", "sales@hydraulix.example", "+49 40 555 0202"),
            ("Seal Masters Ltd", None, "+44 20 5550 0303"),
            ("Belt & Drive NV", "po@beltdrive.example", None))):
        data.add("vendors", {"id": 201 + i, "name": name, "description": None, "email": email, "phoneNumber": phone,
                             "createdAt": iso(base + timedelta(days=i, hours=3))})
    for i, (name, status, maker, model, serial, parent, location) in enumerate((
            ("Centrifugal pump P-101", "ONLINE", "Grundfos", "NB 65-200", "GF-7731-0042", None, 2),
            ("Air compressor C-201", "OFFLINE", "Atlas Copco", "GA 37 VSD+", "AII-556102", None, 2),
            ("Motor M-101", "ONLINE", "ABB", "M3BP 160", "ABB-99812", 301, 2),
            ("Conveyor CV-301", "DO_NOT_TRACK", "SEW-Eurodrive", "R97", None, None, 3),
            ("Roof fan RF-1", "ONLINE", None, None, None, None, 5),
            ("Chiller CH-1", "OFFLINE", "Carrier", "30XA", "CAR-1-2231", None, 5),
            ("Forklift FL-2", "ONLINE", "Linde", "E20", "LIN-220-7", None, 3))):
        data.add("assets", {"id": 301 + i, "name": name, "description": f"{name}, line {i % 3 + 1}",
                            "status": status, "manufacturer": maker, "model": model, "serialNumber": serial,
                            "barcode": f"AS-{301 + i}", "parentId": parent, "locationId": location,
                            "assetTypes": ["Pump"] if "pump" in name.lower() else ["Equipment"],
                            "createdAt": iso(base + timedelta(days=2, hours=i)),
                            "updatedAt": iso(base + timedelta(days=5, hours=i))})
    items = (("Ball bearing 6204-2RS", 435), ("Hydraulic oil ISO VG 46 (L)", 310), ("Mechanical seal 35 mm", 14800),
             ("V-belt SPA 1250", 1290), ("Grease cartridge 400 g", 745), ("Gasket kit DN50", 3999))
    for n in range(parts):
        name, cents = items[n % len(items)]
        data.add("parts", {"id": 401 + n, "name": f"{name}" + (f" #{n // len(items) + 1}" if n >= len(items) else ""),
                           "description": None if n % 2 else f"Stock item {n}", "unitCost": cents + n,
                           "availableQuantity": (n * 7) % 40, "minimumQuantity": 5 + n % 3,
                           "barcode": f"PN-{1000 + n}", "area": f"Shelf {n % 4 + 1}", "locationId": 4,
                           "createdAt": iso(base + timedelta(days=3, hours=n)),
                           "updatedAt": iso(base + timedelta(days=6, hours=n))})
    statuses = ("OPEN", "IN_PROGRESS", "ON_HOLD", "DONE", "CANCELED", "SKIPPED")
    priorities = ("NONE", "LOW", "MEDIUM", "HIGH")
    for n in range(work_orders):
        start = base + timedelta(days=n, hours=2)
        if n == work_orders - 1:  # one starts after "now": hidden unless show_upcoming=true
            start = datetime(2027, 1, 15, 7, 0, tzinfo=UTC)
        status = statuses[n % len(statuses)]
        data.add("workorders", {
            "id": 501 + n, "sequentialId": 1001 + n, "title": f"Work order {n + 1}: inspect line {n % 3 + 1}",
            "description": f"Check and record readings, round {n + 1}.", "status": status,
            "priority": priorities[n % len(priorities)], "assetId": 301 + n % 7, "locationId": 2 + n % 2,
            "assignees": [{"type": "USER", "id": 71, "firstName": "Anna", "lastName": "de Vries"}] if n % 3 else
            ([{"type": "TEAM", "id": 9, "name": "Mechanics"}, {"type": "USER", "id": 72, "firstName": "Ben",
                                                                "lastName": "Okafor"}] if n % 2 == 0 else []),
            "categories": ["Preventive"] if n % 2 == 0 else (["Damage"] if n % 3 == 1 else ["Inspection"]),
            "startDate": iso(start), "dueDate": iso(start + timedelta(days=2)),
            "estimatedTime": 3600 * (n % 4 + 1) + (1800 if n % 2 else 0),
            "completedAt": iso(start + timedelta(hours=5)) if status == "DONE" else None,
            "parentId": 501 if n == 4 else None,
            "createdAt": iso(base + timedelta(days=n)), "updatedAt": iso(base + timedelta(days=n, hours=6))})
    po_statuses = ("REQUESTED", "PENDING", "APPROVED", "DECLINED", "PARTIALLY_FULFILLED", "COMPLETED", "CANCELED")
    for n in range(purchase_orders):
        status = po_statuses[n % len(po_statuses)]
        lines = []
        for k in range(n % 3 + 1):
            name, cents = items[(n + k) % len(items)]
            ordered = (n * 5 + k * 3) % 20 + 1
            received = {"COMPLETED": ordered, "PARTIALLY_FULFILLED": ordered // 2 if k == 0 else 0}.get(status, 0)
            lines.append({"id": 9000 + n * 10 + k, "partId": 401 + (n + k) % parts, "name": name,
                          "unitCost": cents, "price": cents * ordered, "quantityOrdered": ordered,
                          "quantityReceived": received})
        data.add("purchaseorders", {
            "id": 601 + n, "autoGeneratedNumber": f"PO-{n + 1:04d}",
            "overrideNumber": f"RTM-{n + 1}" if n % 4 == 1 else None, "title": f"Restock {n + 1}",
            "status": status, "vendorId": 201 + n % 4, "dueDate": iso(base + timedelta(days=n + 14)),
            "note": "Deliver to gate 3" if n % 2 else None, "items": lines, "deletedAt": None,
            "createdAt": iso(base + timedelta(days=n)), "updatedAt": iso(base + timedelta(days=n, hours=4))})
    return data


# --- the server ----------------------------------------------------------------------------------


def _cursor(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _uncursor(value: str) -> dict:
    try:
        payload = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Invalid cursor") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "Invalid cursor")
    return payload


class _Handler(LoopbackHandler):
    sim: "MaintainXSimulator"
    server_version = "MaintainX"

    def do_GET(self):
        parts, query = self._parse()
        record = {"method": "GET", "path": parts.path, "query": query, "status": None,
                  "organization": self.headers.get("x-organization-id")}
        self.sim.requests.append(record)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        served_list = None
        try:
            token = self._token()
            allowed, rate_headers = self.sim._rate(token)
            headers.update(rate_headers)
            if not allowed:
                raise ApiError(429, "Too many requests, please slow down")
            self._organization(token)
            body, served_list = self._answer(parts.path, query)
            status = 200
        except ApiError as exc:
            status, body = exc.status, {"error": exc.message}
        record["status"] = status
        if served_list:  # the page is computed: a hook's change lands before the next request
            self.sim._page_served(served_list)
        payload = json.dumps(body).encode()
        self._send(status, headers, payload)

    def _token(self) -> str:
        header = self.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        if token not in self.sim.tokens:
            raise ApiError(401, "Unauthorized: invalid or missing API key")
        return token

    def _organization(self, token: str) -> None:
        organizations = self.sim.tokens[token]
        chosen = self.headers.get("x-organization-id")
        if chosen is None:
            if len(organizations) > 1:
                raise ApiError(400, "x-organization-id header is required when using a multi organizations token")
            return
        if not chosen.isdigit() or int(chosen) not in organizations:
            raise ApiError(403, f"This token has no access to organization {chosen}")

    def _answer(self, path: str, query: dict) -> tuple[dict, str | None]:
        segments = path.strip("/").split("/")
        if len(segments) < 2 or segments[0] != "v1" or segments[1] not in RESOURCES or len(segments) > 3:
            raise ApiError(404, "Not found")
        resource = segments[1]
        if len(segments) == 3:
            return self._detail(resource, segments[2]), None
        return self._list(resource, query), resource

    def _detail(self, resource: str, raw_id: str) -> dict:
        _, detail_key, _, _, _ = RESOURCES[resource]
        row = self.sim.data.get(resource, int(raw_id)) if raw_id.isdigit() else None
        if row is None:
            raise ApiError(404, f"{detail_key} not found")
        return {detail_key: row}

    def _list(self, resource: str, query: dict) -> dict:
        key, _, paging, filters, sortable = RESOURCES[resource]
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            raise ApiError(400, "limit must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, f"limit must be between 1 and {MAX_LIMIT}")
        rows = self.sim.data.live(resource)
        for name, value in query.items():
            if name.startswith(("updatedAt[", "createdAt[")):
                if not filters:
                    raise ApiError(400, f"Unknown query parameter {name}")
                field, op = name[:-1].split("[")
                try:
                    bound = parse_iso(value)
                except ValueError:
                    raise ApiError(400, f"{name} must be an ISO 8601 date-time") from None
                if op not in ("gte", "lte", "gt", "lt"):
                    raise ApiError(400, f"Unknown operator in {name}")
                cmp = {"gte": lambda a, b: a >= b, "lte": lambda a, b: a <= b,
                       "gt": lambda a, b: a > b, "lt": lambda a, b: a < b}[op]
                rows = [r for r in rows if cmp(parse_iso(r[field]), bound)]
        if resource == "workorders" and query.get("show_upcoming") != "true":
            now = datetime.now(UTC)
            rows = [r for r in rows if not r.get("startDate") or parse_iso(r["startDate"]) <= now]
        sort = query.get("sort")
        if sort:
            field = sort.lstrip("-")
            if not sortable or field not in ("id", "createdAt", "updatedAt"):
                raise ApiError(400, f"Invalid sort {sort}")
            rows.sort(key=lambda r: (r[field], r["id"]), reverse=sort.startswith("-"))
        if paging == "id":
            after = _uncursor(query["cursor"]).get("after", 0) if query.get("cursor") else 0
            rows = [r for r in rows if r["id"] > after]
            page = rows[:limit]
            following = _cursor({"after": page[-1]["id"]}) if len(rows) > limit else None
        else:
            offset = int(_uncursor(query["cursor"]).get("offset", 0)) if query.get("cursor") else 0
            page = rows[offset:offset + limit]
            following = _cursor({"offset": offset + limit}) if offset + limit < len(rows) else None
        if resource == "purchaseorders":
            page = [{name: row[name] for name in PO_LIST_FIELDS} for row in page]
        if resource == "workorders":
            expand = set(query.get("expand", "").split(",")) | {v for k, v in self._multi("expand")}
            for row in page:
                asset_id = row.pop("assetId", None)
                location_id = row.pop("locationId", None)
                if "asset" in expand:
                    row["assetId"] = asset_id
                    asset = self.sim.data.get("assets", asset_id) if asset_id else None
                    row["asset"] = {"id": asset["id"], "name": asset["name"]} if asset else None
                if "location" in expand:
                    row["locationId"] = location_id
                    location = self.sim.data.get("locations", location_id) if location_id else None
                    row["location"] = {"id": location["id"], "name": location["name"]} if location else None
        next_url = None
        if following:
            params = {k: v for k, v in query.items() if k != "cursor"}
            next_url = f"{self.sim.url}/{resource}?{urlencode({**params, 'cursor': following})}"
        return {key: page, "nextCursor": following, "nextPageUrl": next_url}

    def _multi(self, name: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in parse_qsl(urlsplit(self.path).query) if k == name]


class MaintainXSimulator(LoopbackSimulator):
    """The server and its data. `start()` binds a free loopback port; `stop()` shuts it down."""

    handler_class = _Handler
    thread_name = "maintainx-simulator"
    url_path = "/v1"

    def __init__(self, *, data: MaintainXData | None = None, rate_limit: int = 100, rate_window: float = 60.0,
                 tokens: dict[str, list[int]] | None = None):
        super().__init__()
        self.data = data or seed(MaintainXData())
        self.rate_limit, self.rate_window = rate_limit, rate_window
        # token -> the organizations it may act for
        self.tokens = tokens or {API_KEY: [ORGANIZATION_ID], MULTI_ORG_KEY: [ORGANIZATION_ID, OTHER_ORGANIZATION_ID]}
        self._windows: dict[str, list] = {}  # token -> [window start, count]
        self._hooks: dict[tuple[str, int], Callable[[], None]] = {}
        self._pages_served: dict[str, int] = {}

    def between_pages(self, path: str, after_page: int, hook: Callable[[], None]) -> None:
        """Runs `hook` once, after the `after_page`-th page of the list at `path` was served (1 is
        the first), so it happens between that page request and the next."""
        self._hooks[(path, after_page)] = hook

    def statuses(self, path: str | None = None) -> list[int]:
        return [r["status"] for r in self.requests if path is None or r["path"].startswith(f"/v1/{path}")]

    def list_requests(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == f"/v1/{path}" and r["status"] == 200]

    # --- the rate limit ---------------------------------------------------------------------

    def _rate(self, token: str) -> tuple[bool, dict]:
        """Counts the request against the token's window: (allowed, rate-limit headers)."""
        with self._lock:
            now = time.monotonic()
            window = self._windows.get(token)
            if window is None or now >= window[0] + self.rate_window:
                window = self._windows[token] = [now, 0]
            window[1] += 1
            allowed = window[1] <= self.rate_limit
            reset = max(math.ceil(window[0] + self.rate_window - now), 0)
            return allowed, {"X-Rate-Limit-Limit": str(self.rate_limit),
                             "X-Rate-Limit-Remaining": str(max(self.rate_limit - window[1], 0)),
                             "X-Rate-Limit-Reset": str(reset)}

    def _page_served(self, path: str) -> None:
        with self._lock:
            self._pages_served[path] = count = self._pages_served.get(path, 0) + 1
            hook = self._hooks.pop((path, count), None)
        if hook:
            hook()


def main(argv=None):
    parser = argparse.ArgumentParser(description="A loopback MaintainX API v1 simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--rate-limit", type=int, default=100, help="requests per window per token")
    parser.add_argument("--rate-window", type=float, default=60.0, help="seconds")
    args = parser.parse_args(argv)
    sim = MaintainXSimulator(rate_limit=args.rate_limit, rate_window=args.rate_window)
    sim.start(args.host, args.port)
    print(f"MaintainX simulator at {sim.url}", flush=True)
    print(f"  connector maintainx: base_url={sim.url}", flush=True)
    print(f"  credentials: api_key={API_KEY} (one organization)", flush=True)
    print(f"  multi-organization key: {MULTI_ORG_KEY} (organization_id {ORGANIZATION_ID} or "
          f"{OTHER_ORGANIZATION_ID})", flush=True)
    print(f"  e.g. curl -H 'Authorization: Bearer {API_KEY}' '{sim.url}/workorders?limit=2'", flush=True)
    sim.serve_until_interrupted()


if __name__ == "__main__":
    main()
