"""IBM Maximo (7.6.1 and Maximo Application Suite Manage) through its REST/OSLC JSON API
(docs/connectors/maximo.md).

Reads `{base_url}/api/os/<object structure>` with an API key (the `apikey` header), `lean=1` and
an `oslc.select` of the attributes mapped (a member carries only `href` otherwise):

- work orders: mxapiwodetail; assets: mxapiasset; locations: mxapilocations (with lochierarchy);
- purchase orders: mxapipo with its `poline` children, the current revision only
  (`historyflag=false`, a revision pending approval left out until it is approved);
- inventory: mxapiinventory with `invbalances`; it has no changedate, so every run reads it whole
  and the hashes compare;
- vendors: mxapivendor (companies belong to an organization, not a site).

Keys are composite, so `remote_id` joins them: `SITE/WONUM`, `SITE/ASSETNUM`, `SITE/PONUM`,
`SITE/LOCATION/ITEMNUM`, `SITE/LOCATION`, `ORG/COMPANY`. Changed-since is
`oslc.where=changedate>="<ISO with offset>"`; rows are ordered by changedate then their key
(many rows share one changedate, and Maximo has no default order), and pages follow
`responseInfo.nextPage.href`, which is the checkpoint. Times without an offset are read in the
connection's `timezone`.
"""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connections.connectors.base import ConfigField, Connector, MappingError, Page, ReadRequest, UpstreamError
from connections.connectors.http import HeaderKeyAuth, UpstreamClient, same_host_link
from connections.connectors.parsing import decimal_number, decimal_string, iso_datetime, iso_out

DEFAULT_REQUESTS_PER_MINUTE = 300
PAGE_SIZE = 200
INVALID_API_KEY = "BMXAA9549E"

WO_SELECT = ("wonum,siteid,orgid,description,status,statusdate,wopriority,worktype,assetnum,location,lead,"
             "supervisor,reportdate,targstartdate,targcompdate,schedstart,schedfinish,actstart,actfinish,estdur,"
             "actlabhrs,acttotalcost,failurecode,parent,changedate")
# entity -> (object structure, key attributes (remote_id order), changedate?, oslc.select, extra where)
RESOURCES = {
    "work_orders": ("mxapiwodetail", ("siteid", "wonum"), True, WO_SELECT, ""),
    "assets": ("mxapiasset", ("siteid", "assetnum"), True,
               "assetnum,siteid,orgid,description,status,assettype,location,parent,serialnum,manufacturer,vendor,"
               "priority,installdate,changedate", ""),
    "purchase_orders": ("mxapipo", ("siteid", "ponum"), True,
                        "ponum,revisionnum,siteid,orgid,description,status,vendor,orderdate,requireddate,currencycode,"
                        "pretaxtotal,totaltax1,totalcost,paymentterms,shipto,billto,purchaseagent,changedate,"
                        "poline{polinenum,itemnum,description,orderqty,orderunit,unitcost,linecost,tax1,receivedqty,"
                        "receiptscomplete,storeloc,reqdeliverydate,gldebitacct}",
                        'historyflag=false and status!="PNDREV"'),
    "inventory_items": ("mxapiinventory", ("siteid", "location", "itemnum"), False,
                        "itemnum,itemsetid,location,siteid,orgid,status,issueunit,curbaltotal,minlevel,avgcost,"
                        "costtype,binnum,statusdate,lastissuedate,invbalances{binnum,curbal,lotnum}", ""),
    "locations": ("mxapilocations", ("siteid", "location"), True,
                  "location,siteid,orgid,description,type,status,disabled,changedate,"
                  "lochierarchy{parent,systemid}", ""),
    "vendors": ("mxapivendor", ("orgid", "company"), True,
                "company,orgid,name,type,currencycode,phone,address1,address2,city,stateprovince,zip,country,"
                "disabled,paymentterms,changedate", ""),
}
# The order of every read: changedate (where there is one), then the key, so rows sharing one
# changedate keep one order from page to page.
ORDER_BY = {
    "work_orders": "+changedate,+siteid,+wonum",
    "assets": "+changedate,+siteid,+assetnum",
    "purchase_orders": "+changedate,+siteid,+ponum,+revisionnum",
    "inventory_items": "+siteid,+location,+itemnum",
    "locations": "+changedate,+siteid,+location",
    "vendors": "+changedate,+orgid,+company",
}

# Work order statuses (the WOSTATUS domain's internal values) -> unified.
WO_STATUS = {"WAPPR": "open", "APPR": "open", "WSCH": "open", "WMATL": "on_hold", "WPCOND": "on_hold",
             "INPRG": "in_progress", "COMP": "completed", "CLOSE": "completed", "CAN": "cancelled"}
# wopriority: 1 is the most urgent in Maximo's default setup.
PRIORITY = {1: "urgent", 2: "high", 3: "medium", 4: "low", 5: "low"}
WORK_TYPE = {"PM": "preventive", "CP": "preventive", "CAL": "preventive", "CM": "corrective",
             "EM": "emergency", "EV": "emergency", "INSP": "inspection", "INS": "inspection"}
ASSET_STATUS = {"OPERATING": "operational", "ACTIVE": "operational", "NOT READY": "standby",
                "LIMITEDUSE": "maintenance", "BROKEN": "down", "DECOMMISSIONED": "decommissioned"}
# PO statuses (POSTATUS domain); APPR and INPRG are refined by the lines' receipts.
PO_STATUS = {"WAPPR": "pending_approval", "PNDREV": "pending_approval", "HOLD": "pending_approval",
             "APPR": "approved", "INPRG": "open", "CLOSE": "closed", "REVISD": "closed", "CAN": "cancelled"}
INACTIVE_LOCATION = {"DECOMMISSIONED", "INACTIVE"}
INACTIVE_ITEM = {"PENDOBS", "OBSOLETE"}
CENT = Decimal("0.01")


def maximo_error_message(response) -> str | None:
    """`{"Error": {"reasonCode", "message", "statusCode"}}` as "Maximo BMXAA...: message"."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("Error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    reason = error.get("reasonCode") if isinstance(error.get("reasonCode"), str) else ""
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    if reason and message.startswith(reason):
        message = message[len(reason):].lstrip(" -:")
    if not (reason or message):
        return None
    return f"Maximo {reason}: {message}".strip() if reason else f"Maximo: {message}"


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _number(value, name: str) -> Decimal | None:
    try:
        return decimal_number(value)
    except MappingError as exc:
        raise MappingError(f"{name}: {exc}") from None


def _money(value, name: str) -> str | None:
    number = _number(value, name)
    return None if number is None else decimal_string(number.quantize(CENT, rounding=ROUND_HALF_UP))


def _quantity(value, name: str) -> str | None:
    number = _number(value, name)
    return None if number is None else decimal_string(number, trim=True)


class MaximoConnector(Connector):
    key = "maximo"
    check_entity = "work_orders"
    name = "IBM Maximo"
    category = "eam"
    description = ("Work orders, assets, purchase orders, inventory, locations and vendors through Maximo's "
                   "REST/OSLC JSON API (7.6.1 and Maximo Application Suite Manage), with an API key.")
    entities = ("vendors", "locations", "assets", "inventory_items", "purchase_orders", "work_orders")
    config_fields = (
        ConfigField("base_url", "Maximo URL", "url", required=True,
                    help="The Maximo context root; /api/os/<object structure> is appended.",
                    example="https://host/maximo"),
        ConfigField("timezone", "Server time zone", "string", default="UTC",
                    help="The Maximo server's IANA time zone, for the times it sends without an offset.",
                    example="America/New_York"),
        ConfigField("sites", "Sites", "json", json_types=("array",),
                    help="Site ids to sync, as a JSON list; empty syncs every site the API key's user may read. "
                         "Vendors belong to organizations and are not filtered.",
                    example='["BEDFORD", "NASHUA"]'),
        ConfigField("requests_per_minute", "Requests per minute", "integer", default=DEFAULT_REQUESTS_PER_MINUTE,
                    min_value=1, max_value=100000, help="Shared by every sync of this connection."),
    )
    credential_fields = (
        ConfigField("api_key", "API key", "password", required=True,
                    help="An API key of an integration user (Administration > API keys), sent as the apikey header."),
    )

    def __init__(self, *, config: dict, credentials: dict, connection=None):
        super().__init__(config=config, credentials=credentials, connection=connection)
        self._client: UpstreamClient | None = None

    # --- config ------------------------------------------------------------------------------

    @classmethod
    def config_errors(cls, config: dict) -> dict:
        errors = {}
        zone = config.get("timezone")
        if isinstance(zone, str) and zone:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                errors["config.timezone"] = "expected an IANA time zone such as America/New_York"
        sites = config.get("sites")
        if isinstance(sites, list):
            bad = [s for s in sites if not isinstance(s, str) or not s.strip() or '"' in s or "\\" in s]
            if bad:
                errors["config.sites"] = "expected a list of site ids (non-empty strings without quotes)"
        return errors

    @classmethod
    def prepare_config(cls, config: dict) -> dict:
        prepared = {**config, "base_url": config["base_url"].rstrip("/")}
        if isinstance(config.get("sites"), list):
            prepared["sites"] = [s.strip().upper() for s in config["sites"]]
        return prepared

    @property
    def base_url(self) -> str:
        return self.config["base_url"].rstrip("/")

    @property
    def timezone(self) -> str:
        return self.config.get("timezone") or "UTC"

    @property
    def client(self) -> UpstreamClient:
        if self._client is None:
            key = self.credentials.get("api_key", "")
            self._client = UpstreamClient(
                base_url=self.base_url, auth=HeaderKeyAuth("apikey", key),
                connection_id=getattr(self.connection, "pk", None),
                requests_per_minute=int(self.config.get("requests_per_minute") or DEFAULT_REQUESTS_PER_MINUTE),
                error_message=maximo_error_message, secrets=[key])
        return self._client

    # --- reading ----------------------------------------------------------------------------

    def filters_changed_since(self, entity: str) -> bool:
        return RESOURCES[entity][2]

    def probe(self, entity: str) -> None:
        structure, keys, _, _, _ = RESOURCES[entity]
        params = {"lean": "1", "oslc.select": ",".join(keys), "oslc.pageSize": "1"}
        where = self._where(entity, None)
        if where:
            params["oslc.where"] = where
        self._get(entity, self._url(entity), params)

    def fetch_page(self, request: ReadRequest) -> Page:
        entity = request.entity
        following = (request.checkpoint or {}).get("next")
        if following:
            url, params = same_host_link(self.base_url, following, system="Maximo"), None
        else:
            url, params = self._url(entity), self._params(entity, request.since)
        body = self._get(entity, url, params)
        members = body.get("member") if isinstance(body, dict) else None
        if not isinstance(members, list):
            raise UpstreamError("UPSTREAM_INVALID_RESPONSE",
                                f"Maximo sent no member collection for {RESOURCES[entity][0]} (is lean=1 honoured?).")
        info = body.get("responseInfo") if isinstance(body.get("responseInfo"), dict) else {}
        total = info.get("totalCount") if isinstance(info.get("totalCount"), int) else None
        next_page = info.get("nextPage") if isinstance(info.get("nextPage"), dict) else {}
        href = next_page.get("href") if isinstance(next_page.get("href"), str) and next_page.get("href") else None
        return Page(records=members, next_checkpoint={"next": href} if href else None, total=total)

    def _url(self, entity: str) -> str:
        return f"{self.base_url}/api/os/{RESOURCES[entity][0]}"

    def _where(self, entity: str, since: datetime | None) -> str:
        _, _, changed, _, extra = RESOURCES[entity]
        terms = [extra] if extra else []
        if since is not None and changed:
            moment = since.astimezone(UTC).replace(microsecond=0).isoformat()  # "+00:00": httpx encodes the +
            terms.insert(0, f'changedate>="{moment}"')
        sites = self.config.get("sites") or []
        if sites and entity != "vendors":
            quoted = ",".join(f'"{site}"' for site in sites)
            terms.append(f"siteid={quoted}" if len(sites) == 1 else f"siteid in [{quoted}]")
        return " and ".join(terms)

    def _params(self, entity: str, since: datetime | None) -> dict:
        params = {"lean": "1", "oslc.select": RESOURCES[entity][3], "oslc.orderBy": ORDER_BY[entity],
                  "oslc.pageSize": str(PAGE_SIZE), "collectioncount": "1"}
        where = self._where(entity, since)
        if where:
            params["oslc.where"] = where
        return params

    def _get(self, entity: str, url: str, params: dict | None):
        try:
            return self.client.json("GET", url, params=params, resource=RESOURCES[entity][0])
        except UpstreamError as exc:
            # Maximo answers an invalid or revoked API key with 400 BMXAA9549E, not 401.
            if exc.details.get("status") == 400 and (INVALID_API_KEY in exc.message
                                                     or INVALID_API_KEY in str(exc.details.get("body", ""))):
                raise UpstreamError("UPSTREAM_AUTHENTICATION_FAILED", exc.message, details=exc.details) from None
            raise

    # --- mapping ----------------------------------------------------------------------------

    def remote_id(self, entity: str, raw: dict) -> str:
        keys = RESOURCES[entity][1]
        values = [raw.get(k) if isinstance(raw, dict) else None for k in keys]
        if not all(isinstance(v, str) and v for v in values):
            raise MappingError(f"{entity} record without {' + '.join(keys)}")
        return "/".join(values)

    def normalize(self, entity: str, raw: dict) -> dict:
        try:
            return getattr(self, f"_norm_{entity}")(raw)
        except (KeyError, TypeError, AttributeError) as exc:
            raise MappingError(f"{entity} record {self.remote_id(entity, raw)}: missing or bad field {exc}") from exc

    def _time(self, raw: dict, name: str) -> datetime | None:
        try:
            return iso_datetime(raw.get(name), timezone=self.timezone)
        except MappingError as exc:
            raise MappingError(f"{name}: {exc}") from None

    def _iso(self, raw: dict, name: str) -> str | None:
        return iso_out(self._time(raw, name))

    def _date(self, raw: dict, name: str) -> str | None:
        """A Maximo date (sent as a midnight datetime in the server's zone) as the local date."""
        moment = self._time(raw, name)
        return moment.date().isoformat() if moment else None

    def _changed(self, raw: dict) -> str:
        changed = self._time(raw, "changedate")
        if changed is None:
            raise MappingError("changedate is not set")
        return iso_out(changed)

    @staticmethod
    def _ref(site: str | None, code) -> dict | None:
        code = _text(code)
        return {"remote_id": f"{site}/{code}", "name": None} if code and site else None

    @staticmethod
    def _custom(raw: dict, names) -> dict:
        return {name: raw[name] for name in names if raw.get(name) not in (None, "")}

    def _norm_work_orders(self, raw: dict) -> dict:
        site = raw["siteid"]
        status = _text(raw.get("status"))
        priority = raw.get("wopriority")
        lead = _text(raw.get("lead"))
        parent = _text(raw.get("parent"))
        return {
            "remote_id": f"{site}/{raw['wonum']}", "number": raw["wonum"], "upstream_status": status,
            "created_at": self._iso(raw, "reportdate"), "updated_at": self._changed(raw),
            "title": _text(raw.get("description")), "description": None,
            "status": WO_STATUS.get(status or "", "open"),
            "priority": "none" if priority is None else PRIORITY.get(priority, "medium"),
            "type": WORK_TYPE.get(_text(raw.get("worktype")) or "", "other"),
            "asset": self._ref(site, raw.get("assetnum")), "location": self._ref(site, raw.get("location")),
            "assigned_to": lead, "assignees": [lead] if lead else [], "site": site,
            "due_date": self._date(raw, "targcompdate"),
            "scheduled_start": self._iso(raw, "schedstart") or self._iso(raw, "targstartdate"),
            "scheduled_end": self._iso(raw, "schedfinish") or self._iso(raw, "targcompdate"),
            "started_at": self._iso(raw, "actstart"), "completed_at": self._iso(raw, "actfinish"),
            "estimated_hours": _quantity(raw.get("estdur"), "estdur"),
            "actual_hours": _quantity(raw.get("actlabhrs"), "actlabhrs"),
            "actual_cost": _money(raw.get("acttotalcost"), "acttotalcost"),
            "failure_code": _text(raw.get("failurecode")),
            "parent": {"remote_id": f"{site}/{parent}"} if parent else None,
            "custom_fields": self._custom(raw, ("orgid", "worktype", "wopriority", "supervisor")),
        }

    def _norm_assets(self, raw: dict) -> dict:
        site = raw["siteid"]
        status = _text(raw.get("status"))
        parent = _text(raw.get("parent"))
        return {
            "remote_id": f"{site}/{raw['assetnum']}", "number": raw["assetnum"], "upstream_status": status,
            "created_at": None, "updated_at": self._changed(raw), "name": _text(raw.get("description")),
            "description": None, "status": ASSET_STATUS.get(status or "", "operational"), "site": site,
            "category": _text(raw.get("assettype")), "location": self._ref(site, raw.get("location")),
            "parent": {"remote_id": f"{site}/{parent}"} if parent else None,
            "serial_number": _text(raw.get("serialnum")), "manufacturer": _text(raw.get("manufacturer")),
            "model": None,
            "custom_fields": self._custom(raw, ("orgid", "vendor", "priority", "installdate")),
        }

    def _norm_locations(self, raw: dict) -> dict:
        site = raw["siteid"]
        status = _text(raw.get("status"))
        parents = [h.get("parent") for h in raw.get("lochierarchy") or [] if isinstance(h, dict) and h.get("parent")]
        inactive = raw.get("disabled") is True or (status or "") in INACTIVE_LOCATION
        return {
            "remote_id": f"{site}/{raw['location']}", "number": raw["location"], "upstream_status": status,
            "created_at": None, "updated_at": self._changed(raw), "name": _text(raw.get("description")),
            "code": raw["location"], "status": "inactive" if inactive else "active",
            "parent": {"remote_id": f"{site}/{parents[0]}"} if parents else None, "address": None,
            "custom_fields": self._custom(raw, ("orgid", "type", "siteid")),
        }

    def _norm_vendors(self, raw: dict) -> dict:
        org = raw["orgid"]
        disabled = raw.get("disabled") is True
        fields = ("address1", "address2", "city", "stateprovince", "zip", "country")
        country = _text(raw.get("country"))
        address = None
        if any(_text(raw.get(f)) for f in fields):
            address = {"line1": _text(raw.get("address1")), "line2": _text(raw.get("address2")),
                       "city": _text(raw.get("city")), "region": _text(raw.get("stateprovince")),
                       "postal_code": _text(raw.get("zip")),
                       "country": country.upper() if country and len(country) == 2 and country.isalpha() else None}
        currency = _text(raw.get("currencycode"))
        return {
            "remote_id": f"{org}/{raw['company']}", "number": raw["company"],
            "upstream_status": "disabled" if disabled else None, "created_at": None,
            "updated_at": self._changed(raw), "name": _text(raw.get("name")), "code": raw["company"],
            "email": None, "phone": _text(raw.get("phone")), "address": address,
            "currency": currency if currency and len(currency) == 3 and currency.isupper() else None,
            "status": "inactive" if disabled else "active", "tax_id": None,
            "custom_fields": self._custom(raw, ("orgid", "type", "paymentterms")),
        }

    def _norm_inventory_items(self, raw: dict) -> dict:
        site, location = raw["siteid"], raw["location"]
        status = _text(raw.get("status"))
        balances = raw.get("invbalances") or []
        stock = [{"location": {"remote_id": f"{site}/{location}", "name": None},
                  "quantity_on_hand": _quantity(b.get("curbal"), "invbalances.curbal") or "0",
                  "bin": _text(b.get("binnum"))} for b in balances if isinstance(b, dict)]
        on_hand = raw.get("curbaltotal")
        # No changedate: the latest of the row's own dates, so an unchanged row keeps its time.
        moments = [m for m in (self._time(raw, "lastissuedate"), self._time(raw, "statusdate")) if m]
        if not moments:
            raise MappingError("neither lastissuedate nor statusdate is set")
        return {
            "remote_id": f"{site}/{location}/{raw['itemnum']}", "number": raw["itemnum"], "upstream_status": status,
            "created_at": None, "updated_at": iso_out(max(moments)), "code": raw["itemnum"], "name": None,
            "description": None, "status": "inactive" if (status or "") in INACTIVE_ITEM else "active",
            "unit_of_measure": _text(raw.get("issueunit")),
            "quantity_on_hand": _quantity(on_hand, "curbaltotal"),
            "minimum_quantity": _quantity(raw.get("minlevel"), "minlevel"),
            "unit_cost": _quantity(raw.get("avgcost"), "avgcost"), "currency": None,
            "location": {"remote_id": f"{site}/{location}", "name": None}, "site": site, "stock": stock,
            "custom_fields": self._custom(raw, ("itemsetid", "orgid", "costtype", "binnum")),
        }

    def _norm_purchase_orders(self, raw: dict) -> dict:
        site = raw["siteid"]
        status = _text(raw.get("status"))
        lines = [self._po_line(line, site) for line in raw.get("poline") or []]
        unified = PO_STATUS.get(status or "", "open")
        live = [line for line in lines if line["status"] != "cancelled"]
        if unified in ("approved", "open") and live:
            if all(line["status"] == "received" for line in live):
                unified = "received"
            elif any(line["status"] in ("received", "partially_received") for line in live):
                unified = "partially_received"
        vendor = _text(raw.get("vendor"))
        org = _text(raw.get("orgid"))
        currency = _text(raw.get("currencycode"))
        return {
            "remote_id": f"{site}/{raw['ponum']}", "number": raw["ponum"], "upstream_status": status,
            "created_at": None, "updated_at": self._changed(raw), "status": unified,
            "vendor": {"remote_id": f"{org}/{vendor}", "name": None} if vendor and org else None,
            "order_date": self._date(raw, "orderdate"), "required_date": self._date(raw, "requireddate"),
            "currency": currency if currency and len(currency) == 3 and currency.isupper() else None,
            "subtotal": _money(raw.get("pretaxtotal"), "pretaxtotal"),
            "tax": _money(raw.get("totaltax1"), "totaltax1"), "total": _money(raw.get("totalcost"), "totalcost"),
            "payment_terms": _text(raw.get("paymentterms")), "ship_to": _text(raw.get("shipto")),
            "bill_to": _text(raw.get("billto")), "organization": {"code": site, "name": None},
            "buyer": _text(raw.get("purchaseagent")), "lines": lines,
            "custom_fields": self._custom(raw, ("revisionnum", "orgid", "description")),
        }

    def _po_line(self, line: dict, site: str) -> dict:
        number = line.get("polinenum")
        if not isinstance(number, int) or isinstance(number, bool):
            raise MappingError(f"poline without a polinenum: {number!r}")
        name = f"poline {number}"
        quantity = _number(line.get("orderqty"), f"{name} orderqty")
        received = _number(line.get("receivedqty"), f"{name} receivedqty")
        if line.get("receiptscomplete") is True:
            status = "received"
        elif received:
            status = "partially_received"
        else:
            status = "open"
        item = _text(line.get("itemnum"))
        store = _text(line.get("storeloc"))
        return {"line_number": number, "item_code": item,
                "item": {"remote_id": f"{site}/{store}/{item}" if store else None, "code": item} if item else None,
                "description": _text(line.get("description")), "quantity": _quantity(quantity, f"{name} orderqty"),
                "unit_of_measure": _text(line.get("orderunit")),
                "unit_price": _quantity(line.get("unitcost"), f"{name} unitcost"),
                "amount": _money(line.get("linecost"), f"{name} linecost"),
                "tax_amount": _money(line.get("tax1"), f"{name} tax1"),
                "quantity_received": _quantity(received, f"{name} receivedqty"),
                "delivery_date": self._date(line, "reqdeliverydate"), "status": status,
                "account": _text(line.get("gldebitacct"))}
