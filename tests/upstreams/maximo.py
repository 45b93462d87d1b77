"""A loopback simulator of IBM Maximo's REST/OSLC JSON API, written from IBM's Maximo REST API
guide (https://ibm-maximo-dev.github.io/maximo-restapi-documentation/) and the Manage docs.

A real HTTP server (http.server on 127.0.0.1) serving `/maximo/api/os/<objectstructure>` and
`/maximo/oslc/os/<objectstructure>` for mxapiwodetail, mxapiasset, mxapipo (with `poline`),
mxapiinventory (with `invbalances`), mxapilocations (with `lochierarchy`) and mxapivendor.

As IBM documents the API:
- `lean=1` gives plain property names; without it the answer is namespaced (`rdfs:member`,
  `spi:` prefixes), which a lean client cannot read.
- Without `oslc.select` a member carries only `href`; `oslc.select=a,b,child{c,d}` selects
  attributes and child objects (`*` selects all). `_dropnulls` (default true) omits null
  attributes; `_dropnulls=0` sends them as null.
- `oslc.where`: terms joined by `and` (an `or` is refused with BMXAA8744E), operators
  `= != > >= < <=` and `in [...]`; strings and dates in double quotes, numbers and true/false
  bare. A date literal is ISO 8601; a `+` in its offset that was not URL-encoded arrives as a
  space and the literal is refused.
- `oslc.orderBy=+a,-b`: every term needs its sign (an encoded `+`); there is no default order,
  and rows equal on every ordered attribute come back in an order that changes from request to
  request (as a database without a unique ORDER BY returns them), so offset pages without a
  tiebreaker lose and repeat rows.
- `oslc.pageSize` pages by offset (`pageno`); `responseInfo.nextPage.href` is absent on the last
  page; `collectioncount=1` adds `responseInfo.totalCount` and `totalPages`. `max_page_size`
  plays `mxe.oslc.maxpagesize` (limit paging).
- Auth: the `apikey` header (or query parameter). A wrong key answers 400 with BMXAA9549E; none
  answers 401 (BMXAA7901E). Errors are `{"Error": {"reasonCode", "message", "statusCode",
  "extendedError": {"moreInfo": {"href"}}}}`, `statusCode` a string.
- Datetimes are written with the server's offset (America/New_York: -05:00 in winter); rows
  flagged `naive` (written by an older integration that stored local times) are sent without an
  offset. Decimals are JSON numbers.

Data: two sites (BEDFORD and NASHUA, organization EAGLENA) sharing work order numbers, many rows
sharing one changedate, purchase orders with revisions (the revised one has status REVISD and
historyflag true), inventory without changedate (curbaltotal is computed from invbalances).

Fault injection (`MaximoSimulator.inject`): 429 bursts with Retry-After, and an HTML 503 page as a
proxy sends it. Tests change data through `MaximoSimulator.data` (`touch`, `add`, `delete`,
`set_balance`, `revise_po`).

Run by hand: `python -m tests.upstreams.maximo --port 8766` prints the URL and API key.
"""

import argparse
import copy
import json
import random
import re
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from tests.upstreams.server import LoopbackHandler, LoopbackSimulator

API_KEY = "mx-4k9v2b7q1r8s0t6u3w5y"
SERVER_ZONE = "America/New_York"
ZONE = ZoneInfo(SERVER_ZONE)
CONTEXT = "/maximo"

# object structure -> (collection, key attributes, has changedate)
STRUCTURES = {
    "mxapiwodetail": ("workorders", ("siteid", "wonum"), True),
    "mxapiasset": ("assets", ("siteid", "assetnum"), True),
    "mxapipo": ("pos", ("siteid", "ponum", "revisionnum"), True),
    "mxapiinventory": ("inventory", ("siteid", "location", "itemnum"), False),
    "mxapilocations": ("locations", ("siteid", "location"), True),
    "mxapivendor": ("vendors", ("orgid", "company"), True),
}
CHILDREN = {"poline", "invbalances", "lochierarchy"}
COMPUTED = {"curbaltotal"}  # non-persistent: selectable, not filterable or sortable


class MaximoError(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def error_body(status: int, reason: str, message: str, href: str = "") -> dict:
    return {"Error": {"extendedError": {"moreInfo": {"href": href or f"{CONTEXT}/api/error/messages/{reason}"}},
                      "reasonCode": reason, "message": f"{reason} - {message}", "statusCode": str(status)}}


def t(day: int, hour: int, minute: int = 0) -> datetime:
    """A server-local time in November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=ZONE)


# --- the dataset ----------------------------------------------------------------------------------


class MaximoData:
    """The simulated system's rows, by collection, keyed by their key attributes."""

    def __init__(self):
        self.lock = threading.RLock()
        self.workorders: dict[tuple, dict] = {}
        self.assets: dict[tuple, dict] = {}
        self.pos: dict[tuple, dict] = {}
        self.inventory: dict[tuple, dict] = {}
        self.locations: dict[tuple, dict] = {}
        self.vendors: dict[tuple, dict] = {}
        self.clock = t(30, 9)
        self.rowstamp = 1_000_000

    def now(self) -> datetime:
        with self.lock:
            self.clock += timedelta(seconds=1)
            return self.clock

    def _stamp(self, row: dict) -> None:
        self.rowstamp += 1
        row["_rowstamp"] = str(self.rowstamp)

    def add(self, collection: str, row: dict) -> dict:
        with self.lock:
            key = tuple(row[k] for k in _keys(collection))
            self._stamp(row)
            getattr(self, collection)[key] = row
            return row

    def rows(self, collection: str) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(r) for r in getattr(self, collection).values()]

    def live(self, collection: str) -> list[dict]:
        """What a connector should store: for purchase orders the current revision only."""
        rows = self.rows(collection)
        return [r for r in rows if not r.get("historyflag")] if collection == "pos" else rows

    def touch(self, collection: str, *key, when: datetime | None = None, **fields) -> dict:
        """A user edit: fields changed, changedate set (never on inventory, which has none)."""
        with self.lock:
            row = getattr(self, collection)[tuple(key)]
            row.update(fields)
            if STRUCTURES[_structure(collection)][2]:
                row["changedate"] = when or self.now()
            self._stamp(row)
            return row

    def delete(self, collection: str, *key) -> None:
        with self.lock:
            del getattr(self, collection)[tuple(key)]

    def set_balance(self, siteid: str, location: str, itemnum: str, binnum: str, curbal: Decimal) -> None:
        """A receipt or issue: the bin's balance changes; inventory has no changedate to show it."""
        with self.lock:
            row = self.inventory[(siteid, location, itemnum)]
            next(b for b in row["invbalances"] if b["binnum"] == binnum)["curbal"] = curbal
            self._stamp(row)

    def revise_po(self, siteid: str, ponum: str, **changes) -> dict:
        """Revises and approves a purchase order at once: the old revision becomes REVISD
        (historyflag true), a new revision carries the changes."""
        with self.lock:
            current = next(r for r in self.pos.values() if (r["siteid"], r["ponum"]) == (siteid, ponum)
                           and not r["historyflag"])
            new = copy.deepcopy(current)
            when = self.now()
            current.update(status="REVISD", historyflag=True, changedate=when)
            self._stamp(current)
            new.update({"revisionnum": current["revisionnum"] + 1, "changedate": when, "poid": current["poid"] + 1000,
                        **changes})
            return self.add("pos", new)


def _structure(collection: str) -> str:
    return next(name for name, spec in STRUCTURES.items() if spec[0] == collection)


def _keys(collection: str) -> tuple:
    return STRUCTURES[_structure(collection)][1]


SITES = ("BEDFORD", "NASHUA")


def seed(data: MaximoData) -> MaximoData:
    """A fixed dataset (see the module docstring)."""
    org = "EAGLENA"
    for i, (company, name, city, disabled) in enumerate((
            ("ACME", "Acme Industrial Supply", "Boston", False), ("GRAINGER", "Grainger Industrial", "Lake Forest",
                                                                   False),
            ("TRISTATE", "Tri-State Bearings", "Nashua", True), ("NEHYD", "New England Hydraulics", "Worcester",
                                                                  False))):
        data.add("vendors", {
            "company": company, "orgid": org, "name": name, "type": "V", "currencycode": "USD",
            "phone": f"617-555-01{i:02d}", "address1": f"{100 + i} Main Street", "address2": None, "city": city,
            "stateprovince": "NH" if city == "Nashua" else "MA", "zip": f"0{1800 + i}", "country": "US",
            "disabled": disabled, "paymentterms": "NET30", "changedate": t(3 + i, 10), "companiesid": 10 + i})
    shared = t(20, 8, 30)  # a bulk update: many rows share this changedate
    for site in SITES:
        data.add("locations", {
            "location": "PLANT", "siteid": site, "orgid": org, "description": f"{site.title()} plant",
            "type": "OPERATING", "status": "OPERATING", "disabled": False, "changedate": t(2, 9),
            "locationsid": 100 + len(data.locations), "lochierarchy": [{"parent": None, "systemid": "PRIMARY"}]})
        for j, (loc, desc, kind, status) in enumerate((
                ("SHIPPING", "Shipping and receiving", "OPERATING", "OPERATING"),
                ("BR300", "Boiler room 300", "OPERATING", "OPERATING"),
                ("CENTRAL", "Central storeroom", "STOREROOM", "OPERATING"),
                ("OLDWING", "Old wing", "OPERATING", "DECOMMISSIONED"))):
            data.add("locations", {
                "location": loc, "siteid": site, "orgid": org, "description": f"{desc} ({site.title()})",
                "type": kind, "status": status, "disabled": status == "DECOMMISSIONED",
                "changedate": shared if j < 2 else t(4 + j, 14), "locationsid": 100 + len(data.locations),
                "lochierarchy": [{"parent": "PLANT", "systemid": "PRIMARY"}]})
    asset_specs = (("11430", "Centrifugal pump 100 GPM", "OPERATING", "PUMP", "BR300", None, "Grundfos"),
                   ("11431", "Pump motor 15 HP", "OPERATING", "MOTOR", "BR300", "11430", "Baldor"),
                   ("12500", "Air compressor 50 HP", "BROKEN", "COMPRESSOR", "SHIPPING", None, "Atlas Copco"),
                   ("13100", "Forklift 5000 lb", "NOT READY", "VEHICLE", "SHIPPING", None, "Toyota"),
                   ("13200", "Boiler 2", "DECOMMISSIONED", "BOILER", "OLDWING", None, "Cleaver-Brooks"))
    for site in SITES:
        for k, (num, desc, status, kind, loc, parent, maker) in enumerate(asset_specs):
            data.add("assets", {
                "assetnum": num, "siteid": site, "orgid": org, "description": desc, "status": status,
                "assettype": kind, "location": loc, "parent": parent, "serialnum": f"SN-{site[:2]}-{num}",
                "manufacturer": maker, "vendor": "ACME", "priority": 2, "isrunning": status == "OPERATING",
                "installdate": t(1, 12) - timedelta(days=400 + k), "changedate": shared if k < 3 else t(10 + k, 11),
                "assetuid": 500 + len(data.assets), "naive": site == "NASHUA" and num == "13100"})
    statuses = ("WAPPR", "APPR", "INPRG", "WMATL", "COMP", "CLOSE", "CAN", "APPR", "INPRG", "WSCH")
    worktypes = ("PM", "CM", "EM", "PM", "CM", None, "INSP", "PM", "CM", "PM")
    for site in SITES:
        for n in range(10):
            wonum = str(1001 + n)  # the same numbers at both sites
            status = statuses[(n + (3 if site == "NASHUA" else 0)) % len(statuses)]
            report = t(5 + n, 7, 15)
            row = {"wonum": wonum, "siteid": site, "orgid": org, "description": f"WO {wonum} at {site.title()}",
                   "status": status, "wopriority": (n % 5) + 1 if n != 5 else None, "worktype": worktypes[n],
                   "assetnum": asset_specs[n % 5][0], "location": asset_specs[n % 5][4],
                   "reportdate": report, "targstartdate": report + timedelta(days=2),
                   "targcompdate": report + timedelta(days=4), "schedstart": None, "schedfinish": None,
                   "actstart": report + timedelta(days=2, hours=1) if status in ("INPRG", "COMP", "CLOSE") else None,
                   "actfinish": report + timedelta(days=3) if status in ("COMP", "CLOSE") else None,
                   "lead": "WILSON" if n % 2 else None, "supervisor": "SMITH",
                   "failurecode": "PUMPS" if n == 1 else None,
                   "estdur": Decimal("4.5") if n % 3 else Decimal("2"), "actlabhrs": Decimal(n) / 2,
                   "acttotalcost": Decimal("125.50") * n, "parent": "1001" if n == 8 else None,
                   "changedate": shared if n in (2, 3, 4, 5, 6) else t(5 + n, 16, n),
                   "workorderid": 2000 + len(data.workorders), "statusdate": report, "historyflag": False,
                   "naive": site == "BEDFORD" and n == 9}
            data.add("workorders", row)
    items = (("PUMP-SEAL", "EA", Decimal("148.00")), ("BEARING-6204", "EA", Decimal("4.35")),
             ("OIL-VG46", "GAL", Decimal("11.73")), ("VBELT-A42", "EA", Decimal("12.90")))
    for site in SITES:
        for k, (itemnum, unit, cost) in enumerate(items):
            balances = [{"binnum": "A-01", "curbal": Decimal(10 + k), "lotnum": None},
                        {"binnum": "B-07", "curbal": Decimal(k * 2), "lotnum": None}]
            data.add("inventory", {
                "itemnum": itemnum, "itemsetid": "SET1", "location": "CENTRAL", "siteid": site, "orgid": org,
                "status": "PENDOBS" if k == 3 else "ACTIVE", "issueunit": unit, "orderunit": unit,
                "minlevel": Decimal(5), "avgcost": cost, "costtype": "AVERAGE", "binnum": "A-01",
                "lastissuedate": t(18 + k, 13) if k != 2 else None, "statusdate": t(2, 8),
                "invbalances": balances, "inventoryid": 800 + len(data.inventory)})
    for n in range(8):
        site = SITES[n % 2]
        ponum = str(4100 + n)
        status = ("WAPPR", "APPR", "INPRG", "CLOSE", "CAN", "APPR", "HOLD", "APPR")[n]
        lines = []
        for m in range(n % 3 + 1):
            itemnum, unit, cost = items[(n + m) % 4]
            qty = Decimal(n + m + 1)
            received = qty if n == 3 or (n == 5 and m == 0) else Decimal(0)
            lines.append({"polinenum": m + 1, "itemnum": itemnum, "description": f"{itemnum} line",
                          "orderqty": qty, "orderunit": unit, "unitcost": cost, "linecost": qty * cost,
                          "tax1": (qty * cost * Decimal("0.0625")).quantize(Decimal("0.01")),
                          "receivedqty": received, "receiptscomplete": received == qty,
                          "storeloc": "CENTRAL", "reqdeliverydate": t(25, 12), "gldebitacct": "6100-200-SAF",
                          "polineid": 9000 + n * 10 + m})
        pretax = sum((line["linecost"] for line in lines), Decimal(0))
        tax = sum((line["tax1"] for line in lines), Decimal(0))
        data.add("pos", {
            "ponum": ponum, "revisionnum": 0, "siteid": site, "orgid": org, "description": f"PO {ponum}",
            "status": status, "vendor": ("ACME", "GRAINGER", "NEHYD")[n % 3], "orderdate": t(6 + n, 10),
            "requireddate": t(25, 12), "currencycode": "USD", "pretaxtotal": pretax, "totaltax1": tax,
            "totalcost": pretax + tax, "paymentterms": "NET30", "shipto": "SHIPPING", "billto": "ACCOUNTS",
            "purchaseagent": "PURCHASER", "changedate": shared if n in (1, 2) else t(6 + n, 15),
            "historyflag": False, "poid": 3000 + n, "poline": lines})
    data.revise_po("BEDFORD", "4100", description="PO 4100 (revised)", status="APPR",
                   changedate=t(27, 10))
    data.clock = t(30, 9)
    return data


# --- query evaluation -------------------------------------------------------------------------------

_TERM = re.compile(r'^\s*([\w.]+)\s*(>=|<=|!=|=|>|<|\s+in\s+)\s*(.+?)\s*$', re.IGNORECASE)
_DATE_ATTRS = {"changedate", "reportdate", "targstartdate", "targcompdate", "actstart", "actfinish", "orderdate",
               "requireddate", "statusdate", "lastissuedate", "installdate"}


def _literal(attr: str, text: str):
    text = text.strip()
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        value = text[1:-1]
        if attr in _DATE_ATTRS:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise MaximoError(400, "BMXAA8744E", f'The OSLC query was not parsed. "{value}" is not a valid '
                                                     "date (is the + in its offset URL-encoded?).") from None
            return moment if moment.tzinfo else moment.replace(tzinfo=ZONE)
        return value
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return Decimal(text)
    except ArithmeticError:
        raise MaximoError(400, "BMXAA8744E", f"The OSLC query was not parsed. Unexpected value {text!r}.") from None


def row_filter(expression: str, known: set):
    if re.search(r"\s+or\s+", expression, re.IGNORECASE):
        raise MaximoError(400, "BMXAA8744E", 'The OSLC query was not parsed. Ensure that the query in the HTTP '
                                             'request follows the correct syntax. Encountered " <IDENTIFIER> "or "".')
    terms = []
    for part in re.split(r"\s+and\s+", expression.strip(), flags=re.IGNORECASE):
        match = _TERM.match(part)
        if not match:
            raise MaximoError(400, "BMXAA8744E", f"The OSLC query was not parsed: {part!r}.")
        attr, op, value = match.group(1).lower(), match.group(2).strip().lower(), match.group(3)
        if attr not in known:
            raise MaximoError(400, "BMXAA8745E", f"The attribute {attr.upper()} in the OSLC where clause is not "
                                                 "a persistent attribute of the object structure.")
        if op == "in":
            if not (value.startswith("[") and value.endswith("]")):
                raise MaximoError(400, "BMXAA8744E", f"The OSLC query was not parsed: {part!r}.")
            literal = [_literal(attr, v) for v in re.findall(r'"[^"]*"|[^,\s]+', value[1:-1])]
        else:
            literal = _literal(attr, value)
        terms.append((attr, op, literal))

    def compare(value, op, literal) -> bool:
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and isinstance(literal, Decimal):
            value = Decimal(value)
        if op == "in":
            return value in literal
        if op == "=":
            return value == literal
        if op == "!=":
            return value != literal
        if value is None:
            return False
        try:
            return {">": value > literal, ">=": value >= literal, "<": value < literal, "<=": value <= literal}[op]
        except TypeError:
            raise MaximoError(400, "BMXAA8744E", "The OSLC query was not parsed: type mismatch.") from None

    def matches(row: dict) -> bool:
        return all(compare(row.get(attr), op, literal) for attr, op, literal in terms)

    return matches


def order_rows(rows: list[dict], order_by: str, known: set, seed_value: int) -> list[dict]:
    """Sorts by the signed terms; ties come in an order that differs per request (seed_value)."""
    random.Random(seed_value).shuffle(rows)
    if not order_by:
        return rows
    terms = []
    for term in order_by.split(","):
        if not term or term[0] not in "+-":
            raise MaximoError(400, "BMXAA8746E", f"The OSLC orderBy clause term {term.strip()!r} has no + or - "
                                                 "sign (is the + URL-encoded?).")
        attr = term[1:].strip().lower()
        if attr not in known:
            raise MaximoError(400, "BMXAA8746E", f"The attribute {attr.upper()} cannot be used in oslc.orderBy.")
        terms.append((attr, term[0] == "-"))
    for attr, descending in reversed(terms):
        rows.sort(key=lambda r: (r.get(attr) is not None, r.get(attr) if r.get(attr) is not None else 0),
                  reverse=descending)
    return rows


def parse_select(select: str) -> dict | None:
    """`a,b,child{c,d}` -> {"a": None, "b": None, "child": {"c": None, "d": None}}; `*` selects all."""
    result, stack, name = {}, [], ""
    current = result
    for ch in select + ",":
        if ch == "{":
            child = {}
            current[name.strip().lower()] = child
            stack.append(current)
            current, name = child, ""
        elif ch == "}":
            if name.strip():
                current[name.strip().lower()] = None
            current, name = stack.pop(), ""
        elif ch == ",":
            if name.strip():
                current[name.strip().lower()] = None
            name = ""
        else:
            name += ch
    return result


def wire(value, naive: bool):
    if isinstance(value, datetime):
        local = value.astimezone(ZONE)
        return local.replace(tzinfo=None).isoformat() if naive else local.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    return value


def project(row: dict, select: dict, dropnulls: bool, naive: bool) -> dict:
    out = {}
    names = [k for k in row if not k.startswith("_") and k != "naive"] if "*" in select else list(select)
    for name in names:
        if name == "curbaltotal" and "invbalances" in row:
            value = sum((Decimal(b["curbal"]) for b in row["invbalances"]), Decimal(0))
        elif name not in row:
            continue
        else:
            value = row[name]
        if name in CHILDREN:
            sub = select.get(name) or {"*": None}
            out[name] = [project(child, sub, dropnulls, naive) for child in value or []]
            continue
        if value is None and dropnulls:
            continue
        out[name] = wire(value, naive)
    return out


# --- the server -------------------------------------------------------------------------------------------


class _Handler(LoopbackHandler):
    sim: "MaximoSimulator"
    server_version = "IBM_HTTP_Server"

    def do_GET(self):
        parts, query = self._parse()
        record = {"method": "GET", "path": parts.path, "query": query, "raw_query": parts.query, "status": None}
        self.sim.requests.append(record)
        try:
            status, headers, body = self._answer(parts.path, query)
        except MaximoError as exc:
            status, headers = exc.status, {"Content-Type": "application/json"}
            body = error_body(exc.status, exc.reason, exc.message)
        record["status"] = status
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self._send(status, headers, payload)

    def _answer(self, path: str, query: dict):
        sim = self.sim
        key = self.headers.get("apikey") or query.get("apikey")
        if not key:
            raise MaximoError(401, "BMXAA7901E", "You cannot log in at this time. Contact the system "
                                                 "administrator.")
        if key != sim.api_key:
            raise MaximoError(400, "BMXAA9549E", "The API key token is invalid. Either the token may have "
                                                 "expired or the token has been revoked by the administrator.")
        fault = sim._next_fault()
        if fault and fault["kind"] == "rate_limit":
            return 429, {"Content-Type": "application/json", "Retry-After": str(fault["retry_after"])}, \
                error_body(429, "BMXAA0000E", "Too many requests.")
        if fault and fault["kind"] == "html_503":
            return (503, {"Content-Type": "text/html; charset=iso-8859-1"},
                    b"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\"><html><head><title>503 Service "
                    b"Unavailable</title></head><body><h1>Service Unavailable</h1><p>The server is temporarily "
                    b"unable to service your request.</p></body></html>")
        match = re.fullmatch(re.escape(CONTEXT) + r"/(api|oslc)/os/(\w+)", path)
        if not match:
            raise MaximoError(404, "BMXAA8727E", f"The OSLC resource for the path {path} is not found.")
        structure = match.group(2).lower()
        if structure not in STRUCTURES:
            raise MaximoError(404, "BMXAA8727E", f"The OSLC resource {structure.upper()} is not found.")
        if structure in sim.forbidden:
            raise MaximoError(403, "BMXAA9051E", f"You are not authorized to access the object structure "
                                                 f"{structure.upper()}.")
        if query.get("lean") != "1":
            # Namespaced OSLC JSON: what a lean client cannot read.
            return 200, {"Content-Type": "application/json"}, {"rdfs:member": [], "oslc:responseInfo": {}}
        collection, keys, _ = STRUCTURES[structure]
        rows = sim.data.rows(collection)
        known = {k for r in rows for k in r if not k.startswith("_") and k not in CHILDREN and k != "naive"}
        known |= set(keys)
        if query.get("oslc.where"):
            keep = row_filter(query["oslc.where"], known - COMPUTED)
            rows = [r for r in rows if keep(r)]
        rows = order_rows(rows, query.get("oslc.orderBy", ""), known - COMPUTED, sim._seed_for_request())
        try:
            size = int(query["oslc.pageSize"]) if "oslc.pageSize" in query else None
            pageno = int(query.get("pageno", 1))
        except ValueError:
            raise MaximoError(400, "BMXAA8744E", "oslc.pageSize and pageno must be numbers.") from None
        if size is not None:
            size = max(1, min(size, sim.max_page_size))
        else:
            size = sim.max_page_size if len(rows) > sim.max_page_size else None
        total = len(rows)
        page = rows[(pageno - 1) * size:pageno * size] if size else rows
        select = parse_select(query["oslc.select"]) if query.get("oslc.select") else None
        dropnulls = query.get("_dropnulls", "1") not in ("0", "false")
        base = f"http://{self.headers.get('Host')}{path}"
        members = []
        for row in page:
            member_id = "/".join(str(row[k]) for k in keys)
            member = {"href": f"{base}/_{member_id.encode().hex().upper()}"}
            if select is not None:
                member["_rowstamp"] = row["_rowstamp"]
                member.update(project(row, select, dropnulls, row.get("naive", False)))
            members.append(member)
        own = {k: v for k, v in query.items() if k != "apikey"}
        info = {"href": f"{base}?{urlencode(own)}", "pagenum": pageno}
        if size and pageno * size < total:
            info["nextPage"] = {"href": f"{base}?{urlencode({**own, 'pageno': pageno + 1})}"}
        if size and pageno > 1:
            info["previousPage"] = {"href": f"{base}?{urlencode({**own, 'pageno': pageno - 1})}"}
        if query.get("collectioncount") == "1":
            info["totalCount"] = total
            info["totalPages"] = -(-total // size) if size else 1
        return 200, {"Content-Type": "application/json"}, {"member": members, "href": base, "responseInfo": info}


class MaximoSimulator(LoopbackSimulator):
    handler_class = _Handler
    thread_name = "maximo-simulator"
    # rate_limit: 429 with Retry-After; html_503: a proxy's HTML page
    fault_kinds = ("rate_limit", "html_503")
    url_path = CONTEXT

    def __init__(self, *, data: MaximoData | None = None, api_key: str = API_KEY, max_page_size: int = 1000):
        super().__init__()
        self.data = data or seed(MaximoData())
        self.api_key = api_key
        self.max_page_size = max_page_size  # mxe.oslc.maxpagesize
        self.forbidden: set[str] = set()  # object structures the API key's user may not read
        self._request_no = 0

    def _seed_for_request(self) -> int:
        with self._lock:
            self._request_no += 1
            return self._request_no


def main(argv=None):
    parser = argparse.ArgumentParser(description="A loopback IBM Maximo REST/OSLC JSON simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--max-page-size", type=int, default=1000, help="mxe.oslc.maxpagesize")
    args = parser.parse_args(argv)
    sim = MaximoSimulator(max_page_size=args.max_page_size).start(args.host, args.port)
    print(f"IBM Maximo simulator at {sim.url}", flush=True)
    print(f"  connector maximo: base_url={sim.url} timezone={SERVER_ZONE}", flush=True)
    print(f"  credentials: api_key={sim.api_key}", flush=True)
    print(f"  e.g. curl -H 'apikey: {sim.api_key}' '{sim.url}/api/os/mxapiwodetail?lean=1&oslc.select=*"
          "&oslc.pageSize=2'", flush=True)
    sim.serve_until_interrupted()


if __name__ == "__main__":
    main()
