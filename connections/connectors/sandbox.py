"""The sandbox: a deterministic simulated ERP/CMMS that needs no network.

For demos, onboarding and load tests. Every record is computed from (seed, entity, index) and
the wall clock, so nothing is held in memory and millions of records cost nothing until read.
Its upstream format is PascalCase like many ERP APIs; `normalize` maps it to the unified model.
Config keys are documented in docs/sandbox.md.
"""

import time
from collections import Counter
from datetime import UTC, datetime
from functools import lru_cache

from connections.connectors.base import ConfigField, Connector, MappingError, Page, ReadRequest, UpstreamError

MASK64 = (1 << 64) - 1
DAY = 86400

ADJECTIVES = ("Nordic", "Allied", "Pacific", "Summit", "Iron", "Delta", "Granite", "Vertex", "Harbor", "Atlas",
              "Keystone", "Northern", "Precision", "United", "Coastal", "Prime")
NOUNS = ("Bearings", "Hydraulics", "Valves", "Electric", "Fasteners", "Pumps", "Controls", "Steel", "Filtration",
         "Lubricants", "Motors", "Safety Supply", "Automation", "Tooling")
SUFFIXES = ("GmbH", "Inc.", "Ltd", "AB", "S.A.", "LLC", "Co.")
CITIES = (("Hamburg", "DE", "20095"), ("Houston", "US", "77002"), ("Gothenburg", "SE", "41103"),
          ("Lyon", "FR", "69001"), ("Osaka", "JP", "530-0001"), ("Leeds", "GB", "LS1 1UR"),
          ("Monterrey", "MX", "64000"), ("Perth", "AU", "6000"))
REGIONS = ("HH", "TX", "Västra Götaland", "Auvergne-Rhône-Alpes", "Osaka", "West Yorkshire", "Nuevo León", "WA")
ORGANIZATIONS = (("1000", "Nordwerk Industries GmbH"), ("2000", "Nordwerk Industries Inc."),
                 ("3000", "Nordwerk Industries AB"))
ACCOUNTS = ("410000", "415000", "420000", "476000", "CC-4711", "CC-4712")
ORGANIZATION_NAMES = dict(ORGANIZATIONS)
FAILURE_CODES = ("LEAK", "VIBRATION", "OVERHEAT", "ELECTRICAL", "WEAR")
CURRENCIES = ("EUR", "USD", "SEK", "EUR", "JPY", "GBP", "MXN", "AUD")
ASSET_KINDS = ("Centrifugal Pump", "Air Compressor", "Conveyor", "Boiler", "CNC Mill", "Cooling Tower",
               "Forklift", "Generator", "Heat Exchanger", "Gearbox")
MANUFACTURERS = ("Grundfos", "Atlas Copco", "Siemens", "ABB", "Haas", "SKF", "Caterpillar", "Alfa Laval")
ITEMS = ("Ball bearing 6204", "V-belt A42", "Hydraulic oil ISO 46", "Mechanical seal 35mm", "Air filter",
         "Contactor 24V", "Gasket kit", "Proximity sensor", "Grease cartridge", "Coupling insert", "Fuse 10A",
         "Pressure gauge 0-10 bar")
UOMS = ("EA", "EA", "L", "EA", "EA", "EA", "KIT", "EA", "EA", "EA", "EA", "EA")
TECHNICIANS = ("a.berg", "m.garcia", "j.smith", "k.tanaka", "l.dubois", "r.patel", None)
PO_FLOW = ("draft", "pending_approval", "approved", "open", "partially_received", "received", "closed")
# Work orders carry Maximo-like codes upstream; the unified status is their nearest value.
WO_FLOW = ("WAPPR", "INPRG", "WMATL", "INPRG", "COMP")
WO_STATUS = {"WAPPR": "open", "INPRG": "in_progress", "WMATL": "on_hold", "COMP": "completed"}
WO_TYPES = ("preventive", "corrective", "inspection", "emergency")
PRIORITIES = ("none", "low", "medium", "high", "urgent")
ASSET_STATUSES = ("operational", "operational", "operational", "down", "maintenance")
ENTITY_SALT = {"vendors": 11, "locations": 13, "assets": 17, "inventory_items": 19, "purchase_orders": 23,
               "work_orders": 29}


def clock() -> float:
    """The sandbox's wall clock; tests move it forward to make changes happen."""
    return time.time()


def _mix(*parts: int) -> int:
    """A fast, stable 64-bit hash; Python's hash() is salted per process."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = ((x ^ p) * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 31
    x = (x * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 29)


@lru_cache(maxsize=4096)
def _day(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).date().isoformat()


def _iso(ts: float) -> str:
    """The same text as datetime.isoformat() of a UTC time, without building a datetime:
    it is called several times for every generated record."""
    ts = int(ts)
    day, rest = divmod(ts, DAY)
    hour, rest = divmod(rest, 3600)
    return f"{_day(day)}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}+00:00"


def _date(ts: float) -> str:
    return _day(int(ts) // DAY)


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class SandboxError(Exception):
    pass


class SandboxConnector(Connector):
    key = "sandbox"
    name = "Sandbox ERP/CMMS"
    category = "erp"
    description = "A simulated system with deterministic data, changes, deletions and injected faults. No network."
    config_fields = (
        ConfigField("seed", "Seed", "integer", default=1, help="Same seed, same data."),
        ConfigField("records", "Records", "json", default=100, json_types=("number", "object"),
                    help="Records per entity: a number for all, or an object per entity.",
                    example='{"purchase_orders": 5000, "vendors": 200}'),
        ConfigField("page_size", "Page size", "integer", default=200, min_value=1, max_value=10**7),
        ConfigField("change_rate", "Change rate", "number", default=0, min_value=0, max_value=1,
                    help="Fraction of records that keep changing as time passes (0.01 = 1 %)."),
        ConfigField("change_period_seconds", "Change period (s)", "integer", default=300, min_value=1,
                    max_value=10**7, help="How often each changing record changes."),
        ConfigField("deleted_fraction", "Deleted fraction", "number", default=0, min_value=0, max_value=1,
                    help="Fraction of records deleted upstream (not returned by reads)."),
        ConfigField("span_days", "Span (days)", "integer", default=60, min_value=1, max_value=10**7,
                    help="Records were created over this many days."),
        ConfigField("anchor", "Anchor", "string", help="ISO time the data was generated at; set on creation.",
                    example="2026-11-01T00:00:00+00:00"),
        ConfigField("faults", "Injected faults", "json", default={}, json_types=("object",),
                    help="auth_failure, unreachable, rate_limit_every, retry_after, server_error_every, "
                         "server_error_persistent, slow_page_seconds, malformed_every, crash_after_page, "
                         "bad_record_every, epoch_times_every, unidentifiable_every, naive_times, check_server_error.",
                    example='{"rate_limit_every": 3}'),
    )
    credential_fields = (ConfigField("api_key", "API key", "password", required=True),)

    def __init__(self, *, config: dict, credentials: dict, connection=None):
        super().__init__(config=config, credentials=credentials, connection=connection)
        c = self.config
        self.seed = int(c.get("seed", 1))
        self.page_size = max(1, min(int(c.get("page_size", 200)), 5000))
        self.span = int(c.get("span_days", 60)) * DAY
        self.period = max(1, int(c.get("change_period_seconds", 300)))
        self.anchor = self._anchor(c.get("anchor"))
        rate = float(c.get("change_rate", 0) or 0)
        self.change_stride = max(1, round(1 / rate)) if rate > 0 else 0
        self.deleted_per_10k = int(float(c.get("deleted_fraction", 0) or 0) * 10000)
        self.faults = c.get("faults") or {}
        self._attempts: Counter = Counter()
        records = c.get("records", 100)
        self._counts = {e: int(records.get(e, 0)) if isinstance(records, dict) else int(records) for e in ENTITY_SALT}
        # References repeat across records (a few vendors on many orders): build each once.
        self._vendor_refs: dict[int, dict] = {}
        self._location_refs: dict[int, dict] = {}

    @classmethod
    def prepare_config(cls, config: dict) -> dict:
        # Fix the anchor at creation so the data does not shift while the connection lives.
        if not config.get("anchor"):
            config = {**config, "anchor": datetime.now(UTC).replace(second=0, microsecond=0).isoformat()}
        return config

    @classmethod
    def config_errors(cls, config: dict) -> dict:
        # Types and ranges of the declared fields are checked by Connector.validate; what is
        # left is what a declaration cannot say.
        errors = {}
        records = config.get("records", 100)
        counts = records.values() if isinstance(records, dict) else [records]
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 10**9 for n in counts):
            errors["config.records"] = "a number of records (0 to 1e9), or an object of them per entity"
        elif isinstance(records, dict) and set(records) - set(ENTITY_SALT):
            errors["config.records"] = f"entities are {sorted(ENTITY_SALT)}"
        if config.get("anchor"):
            try:
                datetime.fromisoformat(config["anchor"])
            except (TypeError, ValueError):
                errors["config.anchor"] = "an ISO 8601 time, e.g. 2026-11-01T00:00:00+00:00"
        faults = config.get("faults")
        if isinstance(faults, dict) and (problem := _faults_error(faults)):
            errors["config.faults"] = problem
        return errors

    @staticmethod
    def _anchor(value) -> float:
        if value:
            return datetime.fromisoformat(value).timestamp()
        now = time.time()
        return now - now % DAY

    # --- sizes and timing ------------------------------------------------------------------

    def count(self, entity: str) -> int:
        return self._counts.get(entity, 0)

    def _changing(self, i: int) -> bool:
        return bool(self.change_stride) and i % self.change_stride == self.seed % self.change_stride

    def is_deleted(self, entity: str, i: int) -> bool:
        return bool(self.deleted_per_10k) and _mix(self.seed, 7, ENTITY_SALT[entity], i) % 10000 < self.deleted_per_10k

    def timing(self, entity: str, i: int, now: float) -> tuple[float, float, int]:
        """(created, updated, version) of record i at wall-clock time `now`."""
        n = self.count(entity)
        h = _mix(self.seed, ENTITY_SALT[entity], i)
        created = self.anchor - self.span * (n - i) / n
        updated = min(created + h % DAY, self.anchor)
        if self._changing(i):
            first = self.anchor + h % self.period
            if now >= first:
                version = int((now - first) // self.period) + 1
                return created, first + (version - 1) * self.period, version
        return created, updated, 0

    # --- the simulated API -----------------------------------------------------------------

    def check(self) -> None:
        self._injected_call_faults()
        if self.faults.get("check_server_error") and not self._attempts["check"]:
            self._attempts["check"] += 1
            raise UpstreamError("UPSTREAM_SERVER_ERROR", "503 Service Unavailable from the sandbox (injected, once).",
                                details={"status": 503})

    def _injected_call_faults(self) -> None:
        if self.faults.get("auth_failure"):
            raise UpstreamError("UPSTREAM_AUTHENTICATION_FAILED",
                                "The sandbox rejected the API key (401 Unauthorized; injected auth failure).")
        if self.faults.get("unreachable"):
            raise UpstreamError("UPSTREAM_UNREACHABLE", "Could not connect to the sandbox (injected).")
        if not self.credentials.get("api_key"):
            raise UpstreamError("UPSTREAM_AUTHENTICATION_FAILED", "The sandbox needs an api_key.")

    def _injected_page_faults(self, entity: str, page_no: int) -> None:
        f = self.faults
        attempt = self._attempts[(entity, page_no)]
        self._attempts[(entity, page_no)] += 1
        if f.get("slow_page_seconds"):
            time.sleep(float(f["slow_page_seconds"]))
        if f.get("crash_after_page") is not None and page_no == int(f["crash_after_page"]):
            raise SandboxError(f"injected crash before page {page_no}")
        if _every(f, "rate_limit_every", page_no) and attempt == 0:
            raise UpstreamError("UPSTREAM_RATE_LIMITED", "429 Too Many Requests from the sandbox.",
                                retry_after=float(f.get("retry_after", 1)))
        if _every(f, "server_error_every", page_no) and (attempt == 0 or f.get("server_error_persistent")):
            raise UpstreamError("UPSTREAM_SERVER_ERROR", "503 Service Unavailable from the sandbox.",
                                details={"status": 503, "page": page_no})
        if _every(f, "malformed_every", page_no) and attempt == 0:
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE", "The sandbox answered with HTML instead of JSON.",
                                details={"snippet": "<html><body>Bad gateway</body></html>"})

    def fetch_page(self, request: ReadRequest) -> Page:
        entity = request.entity
        if entity not in ENTITY_SALT:
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE", f"The sandbox has no entity {entity!r}.")
        self._injected_call_faults()
        page_no = int(request.checkpoint.get("page", 0))
        self._injected_page_faults(entity, page_no)
        now = clock()
        threshold = max((t.timestamp() for t in (request.since, request.window_start) if t), default=None)
        n = self.count(entity)
        i, step = int(request.checkpoint.get("next", 0)), 1
        if threshold is not None and threshold > self.anchor and self.change_stride:
            # Only changing records can be newer than the anchor: walk just those.
            step = self.change_stride
            offset = self.seed % step
            i = i + (offset - i) % step
        elif threshold is not None and threshold > self.anchor:
            i = n
        records, scanned = [], 0
        scan_limit = self.page_size * 50
        while i < n and len(records) < self.page_size and scanned < scan_limit:
            created, updated, version = self.timing(entity, i, now)
            if (threshold is None or updated >= threshold) and not self.is_deleted(entity, i):
                records.append(self.raw(entity, i, created, updated, version))
            i += step
            scanned += 1
        return Page(records=records, next_checkpoint={"next": i, "page": page_no + 1} if i < n else None)

    def expected(self, entity: str, *, now: float | None = None) -> dict[str, dict]:
        """Every live record as it stands now, normalized: what a perfect sync stores (tests)."""
        now = now or clock()
        result = {}
        for i in range(self.count(entity)):
            if not self.is_deleted(entity, i):
                record = self.normalize(entity, self.raw(entity, i, *self.timing(entity, i, now)))
                result[record["remote_id"]] = record
        return result

    # --- record generation (upstream format) -------------------------------------------------

    def raw(self, entity: str, i: int, created: float, updated: float, version: int) -> dict:
        h = _mix(self.seed, ENTITY_SALT[entity], i)
        record = getattr(self, f"_raw_{entity}")(i, h, created, version)
        record["CreatedAt"], record["ChangedAt"], record["Version"] = _iso(created), _iso(updated), version
        return self._injected_record_faults(record, i)

    def _injected_record_faults(self, record: dict, i: int) -> dict:
        f = self.faults
        if _every(f, "epoch_times_every", i):
            # Mappable, but a number where the unified schema wants ISO 8601 text: the engine refuses it.
            record["CreatedAt"] = int(datetime.fromisoformat(record["CreatedAt"]).timestamp())
        if _every(f, "bad_record_every", i):
            record.pop("CreatedAt")  # identifiable, but not mappable
        if _every(f, "unidentifiable_every", i):
            record.pop("Id")
        if f.get("naive_times"):
            # Some systems send local times with no offset; the contract refuses them.
            record["ChangedAt"] = record["ChangedAt"].removesuffix("+00:00")
        return record

    def _plant(self, h: int) -> str:
        """The site code of the location _location_ref(h) picks: 20 locations to a plant."""
        return f"P{(h >> 7) % max(1, self._counts['locations']) // 20 + 1:03d}"

    def _vendor_ref(self, h: int) -> dict:
        j = h % max(1, self._counts["vendors"])
        ref = self._vendor_refs.get(j)
        if ref is None:
            if len(self._vendor_refs) > 10000:  # bounded, so memory stays flat for any size
                self._vendor_refs.clear()
            ref = self._vendor_refs[j] = {"Id": f"V{100000 + j}", "Name": self._vendor_name(_mix(self.seed, 11, j))}
        return dict(ref)

    def _location_ref(self, h: int) -> dict:
        j = (h >> 7) % max(1, self._counts["locations"])
        ref = self._location_refs.get(j)
        if ref is None:
            if len(self._location_refs) > 10000:
                self._location_refs.clear()
            ref = self._location_refs[j] = {"Id": f"L{10000 + j}", "Name": self._location_name(j)}
        return dict(ref)

    @staticmethod
    def _vendor_name(h: int) -> str:
        return f"{ADJECTIVES[h % 16]} {NOUNS[(h >> 4) % 14]} {SUFFIXES[(h >> 8) % 7]}"

    @staticmethod
    def _location_name(j: int) -> str:
        site, rest = divmod(j, 20)
        plant = f"{CITIES[site % 8][0]} plant {site + 1}"
        return plant if rest == 0 else f"{plant} / Area {rest}"

    def _raw_vendors(self, i, h, created, version):
        c = h % 8
        city, country, postal = CITIES[c]
        return {"Id": f"V{100000 + i}", "SupplierName": self._vendor_name(h), "SupplierCode": f"SUP-{i:06d}",
                "Email": f"orders{i}@supplier{h % 997}.example", "Phone": f"+49 40 {h % 9000000 + 1000000}",
                "Street": f"{(h >> 9) % 200 + 1} Industriestrasse", "Street2": f"Gate {(h >> 3) % 9 + 1}"
                if h % 3 == 0 else None, "City": city, "Region": REGIONS[c], "PostalCode": postal,
                "Country": country, "Currency": CURRENCIES[c], "VatId": f"{country}{(h >> 20) % 10**9:09d}",
                "Blocked": (h >> 12) % 20 == 0 or (version % 7 == 3)}

    def _raw_locations(self, i, h, created, version):
        site, rest = divmod(i, 20)
        city, country, postal = CITIES[site % 8]
        return {"Id": f"L{10000 + i}", "Description": self._location_name(i), "Code": f"LOC-{i:05d}",
                "ParentId": f"L{10000 + site * 20}" if rest else None, "Status": "CLOSED" if h % 50 == 0 else "OPEN",
                "Street": f"{h % 90 + 1} Werkstrasse", "City": city, "Region": REGIONS[site % 8],
                "PostalCode": postal, "Country": country}

    def _raw_assets(self, i, h, created, version):
        kind = ASSET_KINDS[h % 10]
        return {"Id": f"A{200000 + i}", "Description": f"{kind} {chr(65 + (h >> 5) % 26)}-{100 + i % 900}",
                "LongText": f"{kind} installed {_date(created)}", "Status": ASSET_STATUSES[(h + version) % 5],
                "Class": kind, "Plant": self._plant(h), "Location": self._location_ref(h),
                "ParentId": f"A{200000 + i // 10}" if i >= 10 and i % 10 else None,
                "SerialNo": f"SN{h % 10**10:010d}", "Manufacturer": MANUFACTURERS[(h >> 3) % 8],
                "ModelNo": f"M{(h >> 11) % 9000 + 1000}"}

    def _raw_inventory_items(self, i, h, created, version):
        k = h % 12
        on_hand = (h >> 4) % 500 + version * 3 % 40
        main = self._location_ref(h)
        stock = [{"Location": main, "Qty": on_hand - on_hand // 4, "Bin": f"A-{h % 20 + 1:02d}-{(h >> 5) % 9 + 1}"}]
        if on_hand // 4:  # a quarter held in the next storeroom
            stock.append({"Location": self._location_ref(h + (1 << 7)), "Qty": on_hand // 4, "Bin": None})
        return {"Id": f"I{300000 + i}", "Material": f"MAT-{i:06d}", "MaterialText": ITEMS[k],
                "LongText": f"{ITEMS[k]}, stock item", "BaseUnit": UOMS[k], "Blocked": h % 40 == 0,
                "OnHand": str(on_hand), "ReorderPoint": str((h >> 13) % 50),
                "UnitCostCents": (h >> 17) % 50000 + 99, "Currency": CURRENCIES[(h >> 2) % 8],
                "Location": main, "Plant": self._plant(h), "Stock": stock}

    def _raw_purchase_orders(self, i, h, created, version):
        lines = []
        items = self._counts["inventory_items"]
        for n in range(h % 4 + 1):
            lh = _mix(h, n)
            k = lh % 12
            qty = lh % 40 + 1
            price = (lh >> 8) % 90000 + 250
            received = qty if version > 2 else (qty // 2 if version else 0)
            m = (lh >> 20) % (items or 100000)
            lines.append({"ItemNo": (n + 1) * 10, "Material": f"MAT-{m:06d}", "ItemId": f"I{300000 + m}" if items
                          else None, "Text": ITEMS[k], "Qty": qty, "Uom": UOMS[k], "NetPriceCents": price,
                          "Received": received, "DeliveryDate": _date(created + (lh % 30 + 7) * DAY),
                          "Account": ACCOUNTS[(lh >> 6) % 6]})
        return {"Id": f"PO{i}", "PurchaseOrder": str(4500000000 + i),
                "Status": PO_FLOW[min((h >> 3) % 5 + version, 6)], "Supplier": self._vendor_ref(h),
                "CompanyCode": ORGANIZATIONS[(h >> 16) % 3][0],
                "OrderDate": _date(created), "RequiredDate": _date(created + (h % 45 + 10) * DAY),
                "Currency": CURRENCIES[(h >> 6) % 8], "TaxRatePct": (0, 8, 19, 25)[(h >> 9) % 4],
                "PaymentTerms": ("NET30", "NET45", "NET60", "2/10 NET30")[(h >> 11) % 4],
                "ShipTo": self._location_ref(h)["Name"], "BillTo": "Accounts Payable, Head Office",
                "Lines": lines, "Buyer": TECHNICIANS[(h >> 14) % 6]}

    def _raw_work_orders(self, i, h, created, version):
        asset_n = max(1, self.count("assets"))
        a = (h >> 5) % asset_n
        ah = _mix(self.seed, 17, a)
        status = WO_FLOW[min((h >> 2) % 3 + version, 4)]
        lead, helper = TECHNICIANS[(h >> 11) % 7], TECHNICIANS[(h >> 14) % 7]
        kind = WO_TYPES[h % 4]
        hours = (h >> 17) % 16 + 1  # in half hours
        return {"Id": f"W{i}", "WorkOrder": f"WO-{100000 + i}",
                "Title": f"{kind.title()} check of {ASSET_KINDS[ah % 10]}",
                "Details": "Follow the standard checklist and record findings.", "Status": status,
                "Priority": PRIORITIES[(h >> 8) % 5], "Type": kind,
                "Asset": {"Id": f"A{200000 + a}",
                          "Name": f"{ASSET_KINDS[ah % 10]} {chr(65 + (ah >> 5) % 26)}-{100 + a % 900}"},
                "Location": self._location_ref(ah), "Plant": self._plant(ah), "AssignedTo": lead,
                "Crew": [lead, helper] if lead and helper and helper != lead else [lead] if lead else [],
                "DueDate": _date(created + (h % 20 + 1) * DAY),
                "ScheduledStart": _iso(created + 1800), "ScheduledFinish": _iso(created + 1800 + hours * 1800),
                "EstimatedHours": f"{hours // 2}.{5 * (hours % 2)}",
                "StartedAt": _iso(created + 3600) if status != "WAPPR" else None,
                "CompletedAt": _iso(created + 7200) if status == "COMP" else None,
                "ActualHours": "1.0" if status == "COMP" else None,
                "ActualCostCents": (h >> 23) % 90000 + 4500 if status == "COMP" else None,
                "FailureCode": FAILURE_CODES[(h >> 4) % 5] if kind in ("corrective", "emergency") else None,
                "ParentId": f"W{i - 9}" if i % 10 == 9 else None}

    # --- normalization ------------------------------------------------------------------------

    def remote_id(self, entity: str, raw: dict) -> str:
        if not raw.get("Id"):
            raise MappingError(f"{entity} record without an Id")
        return raw["Id"]

    def normalize(self, entity: str, raw: dict) -> dict:
        try:
            unified = getattr(self, f"_norm_{entity}")(raw)
            unified.update(remote_id=raw["Id"], created_at=raw["CreatedAt"], updated_at=raw["ChangedAt"],
                           custom_fields={"version": raw["Version"]})
            return unified
        except (KeyError, TypeError, ValueError) as exc:
            raise MappingError(f"{entity} record {raw.get('Id', '?')}: missing or bad field {exc}") from exc

    @staticmethod
    def _ref(ref: dict | None) -> dict | None:
        return {"remote_id": ref["Id"], "name": ref["Name"]} if ref else None

    @staticmethod
    def _parent(remote_id: str | None) -> dict | None:
        return {"remote_id": remote_id} if remote_id else None

    @staticmethod
    def _address(raw: dict) -> dict:
        return {"line1": raw["Street"], "line2": raw.get("Street2"), "city": raw["City"], "region": raw["Region"],
                "postal_code": raw["PostalCode"], "country": raw["Country"]}

    def _norm_vendors(self, raw):
        return {"number": raw["SupplierCode"], "name": raw["SupplierName"], "code": raw["SupplierCode"],
                "email": raw["Email"], "phone": raw["Phone"], "address": self._address(raw),
                "currency": raw["Currency"], "status": "inactive" if raw["Blocked"] else "active",
                "upstream_status": "BLOCKED" if raw["Blocked"] else "RELEASED", "tax_id": raw["VatId"]}

    def _norm_locations(self, raw):
        return {"number": raw["Code"], "name": raw["Description"], "code": raw["Code"],
                "status": "inactive" if raw["Status"] == "CLOSED" else "active", "upstream_status": raw["Status"],
                "parent": self._parent(raw["ParentId"]), "address": self._address(raw)}

    def _norm_assets(self, raw):
        return {"number": raw["Id"], "name": raw["Description"], "description": raw["LongText"],
                "status": raw["Status"], "upstream_status": raw["Status"], "site": raw["Plant"],
                "category": raw["Class"], "location": self._ref(raw["Location"]),
                "parent": self._parent(raw["ParentId"]), "serial_number": raw["SerialNo"],
                "manufacturer": raw["Manufacturer"], "model": raw["ModelNo"]}

    def _norm_inventory_items(self, raw):
        stock = [{"location": self._ref(s["Location"]), "quantity_on_hand": str(s["Qty"]), "bin": s["Bin"]}
                 for s in raw["Stock"]]
        return {"number": raw["Material"], "code": raw["Material"], "name": raw["MaterialText"],
                "description": raw["LongText"], "status": "inactive" if raw["Blocked"] else "active",
                "upstream_status": "BLOCKED" if raw["Blocked"] else "RELEASED", "unit_of_measure": raw["BaseUnit"],
                "quantity_on_hand": raw["OnHand"], "minimum_quantity": raw["ReorderPoint"],
                "unit_cost": _money(raw["UnitCostCents"]), "currency": raw["Currency"],
                "location": self._ref(raw["Location"]), "site": raw["Plant"], "stock": stock}

    def _norm_purchase_orders(self, raw):
        lines, subtotal, tax = [], 0, 0
        rate = raw["TaxRatePct"]
        for line in raw["Lines"]:
            qty, received = line["Qty"], line["Received"]
            amount = qty * line["NetPriceCents"]
            line_tax = amount * rate // 100
            subtotal += amount
            tax += line_tax
            lines.append({"line_number": line["ItemNo"], "item_code": line["Material"],
                          "item": {"remote_id": line["ItemId"], "code": line["Material"]},
                          "description": line["Text"], "quantity": str(qty), "unit_of_measure": line["Uom"],
                          "unit_price": _money(line["NetPriceCents"]), "amount": _money(amount),
                          "tax_amount": _money(line_tax), "quantity_received": str(received),
                          "delivery_date": line["DeliveryDate"],
                          "status": "received" if received >= qty else "partially_received" if received else "open",
                          "account": line["Account"]})
        code = raw["CompanyCode"]
        return {"number": raw["PurchaseOrder"], "status": raw["Status"], "upstream_status": raw["Status"],
                "vendor": self._ref(raw["Supplier"]), "order_date": raw["OrderDate"],
                "required_date": raw["RequiredDate"], "currency": raw["Currency"], "subtotal": _money(subtotal),
                "tax": _money(tax), "total": _money(subtotal + tax), "payment_terms": raw["PaymentTerms"],
                "ship_to": raw["ShipTo"], "bill_to": raw["BillTo"],
                "organization": {"code": code, "name": ORGANIZATION_NAMES[code]}, "buyer": raw["Buyer"],
                "lines": lines}

    def _norm_work_orders(self, raw):
        cost = raw["ActualCostCents"]
        return {"number": raw["WorkOrder"], "title": raw["Title"], "description": raw["Details"],
                "status": WO_STATUS[raw["Status"]], "upstream_status": raw["Status"], "priority": raw["Priority"],
                "type": raw["Type"], "asset": self._ref(raw["Asset"]), "location": self._ref(raw["Location"]),
                "assigned_to": raw["AssignedTo"], "assignees": raw["Crew"], "site": raw["Plant"],
                "due_date": raw["DueDate"], "scheduled_start": raw["ScheduledStart"],
                "scheduled_end": raw["ScheduledFinish"], "started_at": raw["StartedAt"],
                "completed_at": raw["CompletedAt"], "estimated_hours": raw["EstimatedHours"],
                "actual_hours": raw["ActualHours"], "actual_cost": _money(cost) if cost is not None else None,
                "failure_code": raw["FailureCode"], "parent": self._parent(raw["ParentId"])}


# The faults the sandbox injects (docs/sandbox.md, "Faults") and the value each takes: a mistyped
# key would otherwise be a fault that silently never happens.
FAULTS = {
    "auth_failure": "flag", "unreachable": "flag", "server_error_persistent": "flag", "naive_times": "flag",
    "check_server_error": "flag", "rate_limit_every": "count", "server_error_every": "count",
    "malformed_every": "count", "bad_record_every": "count", "epoch_times_every": "count",
    "unidentifiable_every": "count", "crash_after_page": "count", "retry_after": "seconds",
    "slow_page_seconds": "seconds",
}
FAULT_VALUES = {"flag": "true or false", "count": "a whole number, 0 or more", "seconds": "a number of seconds"}


def _faults_error(faults: dict) -> str:
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        return (f"unknown fault{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                f"the faults are {', '.join(FAULTS)}")
    for key, value in faults.items():
        if not _fault_value_ok(FAULTS[key], value):
            return f"{key} takes {FAULT_VALUES[FAULTS[key]]}"
    return ""


def _fault_value_ok(kind: str, value) -> bool:
    if kind == "flag":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    accepted = int if kind == "count" else (int, float)
    return isinstance(value, accepted) and value >= 0


def _every(faults: dict, key: str, page_no: int) -> bool:
    n = faults.get(key)
    return bool(n) and page_no % int(n) == int(n) - 1
