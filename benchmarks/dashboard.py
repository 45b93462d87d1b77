"""The dashboard benchmark: seed a large, realistic data set fast, then time every page.

Seeding writes rows straight into the tables: COPY on PostgreSQL, batched executemany on
SQLite. One million runs take a minute or two, which model saves (or even bulk_create of
model instances) cannot do. Values are adapted per column once, from the model's own fields,
so a column added later with a default is filled with that default.
"""

import hashlib
import itertools
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.signals import request_finished, request_started
from django.db import close_old_connections, models, transaction
from django.db import connection as db
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.connectors.entities import ENTITIES
from connections.crypto import EncryptedJSONField
from connections.models import Connection, Customer
from core.models import AuditEvent
from dashboard.selectors.audit import KNOWN_ACTIONS
from syncs.models import Incident, SyncRun, SyncState
from syncs.rollups import rollups_rebuild
from webhooks.models import Attempt, Delivery, Endpoint, Event

BENCH_PREFIX = "bench-"
DAYS = 30
BATCH = 5000
STATUS_WEIGHTS = {"active": 85, "paused": 5, "auth_failed": 4, "unreachable": 3, "pending": 2, "disconnected": 1}
ERROR_CODES = ("UPSTREAM_SERVER_ERROR", "UPSTREAM_UNREACHABLE", "UPSTREAM_RATE_LIMITED",
               "UPSTREAM_AUTHENTICATION_FAILED",
               "MAPPING_FAILED", "SYNC_STALLED")


# --- writing rows fast -------------------------------------------------------------------------

def _adapter(f: models.Field) -> Callable:
    postgres = db.vendor == "postgresql"
    if isinstance(f, EncryptedJSONField):
        return lambda v: f.get_prep_value(v)
    if isinstance(f, models.JSONField):
        return lambda v: None if v is None else json.dumps(v)
    target = f.target_field if isinstance(f, models.ForeignKey) else f
    if isinstance(target, models.UUIDField) and not postgres:
        return lambda v: v.hex if isinstance(v, uuid.UUID) else v
    if isinstance(f, models.DateTimeField) and not postgres:
        return lambda v: db.ops.adapt_datetimefield_value(v)
    if isinstance(f, models.BooleanField) and not postgres:
        return lambda v: int(v) if v is not None else None
    return lambda v: v


def _default(f: models.Field):
    # Django's own rule: the declared default, else "" for non-null text columns, else None.
    return f.get_default()


def insert_rows(model: type[models.Model], rows: Iterable[dict]) -> int:
    """Writes dicts keyed by attname; missing columns get the field default, except an
    auto-increment id, which the database assigns unless the rows give it."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    rows = itertools.chain([first], rows)
    fields = [f for f in model._meta.concrete_fields
              if not (isinstance(f, models.AutoField | models.BigAutoField) and f.attname not in first)]
    adapters = [_adapter(f) for f in fields]
    defaults = [_default(f) for f in fields]
    names = [f.attname for f in fields]
    table = db.ops.quote_name(model._meta.db_table)
    columns = ", ".join(db.ops.quote_name(f.column) for f in fields)

    def tuples() -> Iterator[tuple]:
        for row in rows:
            yield tuple(adapt(row.get(name, default))
                        for name, adapt, default in zip(names, adapters, defaults, strict=True))

    count = 0
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for values in tuples():
                    copy.write_row(values)
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        batch = []
        for values in tuples():
            batch.append(values)
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


# --- the data set ------------------------------------------------------------------------------

@dataclass
class Seeded:
    connections: list[uuid.UUID] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Latest:
    run_id: uuid.UUID
    queued_at: datetime
    status: str
    finished_at: datetime
    error_code: str


def _weighted(rng: random.Random, weights: dict) -> Callable[[], str]:
    population, cum = list(weights), list(weights.values())
    return lambda: rng.choices(population, cum)[0]


def seed(*, connections: int, runs: int, audit_events: int, deliveries: int, now: datetime,
         log: Callable[[str], None] = print, rng_seed: int = 42) -> Seeded:
    rng = random.Random(rng_seed)
    result = Seeded()
    with transaction.atomic():
        if db.vendor == "postgresql":
            with db.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        started = time.perf_counter()
        customers = _seed_customers(n=max(1, connections // 20), now=now)
        result.counts["customers"] = len(customers)
        result.connections, statuses = _seed_connections(n=connections, customers=customers, rng=rng, now=now)
        result.counts["connections"] = len(result.connections)
        log(f"  customers and connections: {time.perf_counter() - started:.1f} s")
        t = time.perf_counter()
        latest, failed_runs, n_runs = _seed_runs(n=runs, connections=result.connections, statuses=statuses, rng=rng,
                                                  now=now)
        result.counts["runs"] = n_runs
        log(f"  {n_runs} runs: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        # What each run would have added as it finished, so the charts read what production's would.
        result.counts["run rollups"] = rollups_rebuild(since=now - timedelta(days=DAYS + 1))["rollups"]
        log(f"  run rollups: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        result.counts["sync states"] = _seed_states(connections=result.connections, latest=latest, now=now)
        result.counts["incidents"] = _seed_incidents(failed_runs=failed_runs, statuses=statuses, rng=rng, now=now)
        log(f"  sync states and incidents: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        result.counts["audit events"] = _seed_audit(n=audit_events, connections=result.connections, rng=rng, now=now)
        result.counts["deliveries"] = _seed_webhooks(n=deliveries, connections=result.connections, rng=rng, now=now)
        log(f"  audit events and webhooks: {time.perf_counter() - t:.1f} s")
    if db.vendor == "postgresql":
        t = time.perf_counter()
        # Statistics and the visibility map, as autovacuum leaves them after a real load;
        # VACUUM cannot run inside a transaction (a test's), so there only ANALYZE.
        command = "ANALYZE" if db.in_atomic_block else "VACUUM ANALYZE"
        with db.cursor() as cursor:
            cursor.execute(command)
        log(f"  {command}: {time.perf_counter() - t:.1f} s")
    return result


def _seed_customers(*, n: int, now: datetime) -> list[int]:
    start = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    base = start + 1
    names = ("Acme", "Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell")
    insert_rows(Customer, ({"id": base + i, "name": f"{names[i % len(names)]} Industries {i:05d}",
                            "external_id": f"{BENCH_PREFIX}{uuid.uuid4().hex[:12]}", "metadata": {}, "created_at": now}
                           for i in range(n)))
    if db.vendor == "postgresql":
        with db.cursor() as cursor:  # ids were given explicitly: move the sequence past them
            cursor.execute("SELECT setval(pg_get_serial_sequence('connections_customer', 'id'), "
                           "(SELECT MAX(id) FROM connections_customer))")
    return list(range(base, base + n))


def _seed_connections(*, n: int, customers: list[int], rng: random.Random, now: datetime):
    pick_status = _weighted(rng, STATUS_WEIGHTS)
    ids, statuses = [], {}
    credentials = EncryptedJSONField().get_prep_value({"api_key": "bench"})  # one ciphertext for all rows

    def rows():
        for i in range(n):
            pk, status = uuid.uuid4(), pick_status()
            ids.append(pk)
            statuses[pk] = status
            token = hashlib.sha256(pk.bytes).hexdigest()
            yield {"id": pk, "customer_id": customers[i % len(customers)], "connector": "sandbox",
                   "name": f"{rng.choice(('SAP S/4HANA', 'Maximo', 'Business Central', 'NetSuite', 'MaintainX'))} "
                           f"plant {i:05d}",
                   "status": status, "status_reason": "" if status == "active" else f"bench: {status}",
                   "status_changed_at": now - timedelta(hours=rng.randint(1, 500)),
                   "config": {"seed": i, "records": 100, "page_size": 200}, "credentials": credentials,
                   "entities": list(ENTITIES), "sync_interval_minutes": 60, "history_days": 90, "metadata": {},
                   "token_hash": token, "token_prefix": f"ctk_{token[:8]}",
                   "paused_at": now - timedelta(hours=2) if status == "paused" else None,
                   "disconnected_at": now - timedelta(days=3) if status == "disconnected" else None,
                   "created_at": now - timedelta(days=DAYS + 5), "updated_at": now}

    insert_rows(Connection, rows())
    return ids, statuses


def _seed_runs(*, n: int, connections: list, statuses: dict, rng: random.Random, now: datetime):
    """Runs spread over DAYS days; failing connections fail more. Returns the latest finished run
    per (connection, entity), failed runs per connection, and the count."""
    latest: dict[tuple, _Latest] = {}
    failed_runs: dict[uuid.UUID, list[tuple[str, str, uuid.UUID]]] = {}
    span = DAYS * 86400
    pick_trigger = _weighted(rng, {"schedule": 90, "dashboard": 5, "api": 3, "retry": 1, "cli": 1})
    active_pairs = set()
    n_active = min(max(1, len(connections) // 100), n)

    # Oldest first, as a real table fills: recent runs sit together at the end, which is what
    # the time-window queries of the overview and the runs list read.
    offsets = sorted((rng.random() * span for _ in range(n)), reverse=True)

    def rows():
        for i, offset in enumerate(offsets):
            conn = connections[rng.randrange(len(connections))]
            entity = ENTITIES[rng.randrange(len(ENTITIES))]
            queued = now - timedelta(seconds=offset)
            mode = "full" if rng.random() < 0.05 else "incremental"
            if i >= n - n_active and (conn, entity) not in active_pairs:
                active_pairs.add((conn, entity))
                status = "running" if i % 2 else "queued"
                queued = now - timedelta(seconds=rng.randint(1, 120))
            else:
                bad = statuses[conn] in ("auth_failed", "unreachable")
                roll = rng.random()
                status = "failed" if roll < (0.6 if bad else 0.05) else ("cancelled" if roll > 0.99 else "succeeded")
            started = queued + timedelta(seconds=rng.uniform(0.1, 5))
            active = status in ("queued", "running")
            finished = None if active else started + timedelta(seconds=rng.expovariate(1 / 40))
            fetched = 0 if status == "queued" else int(rng.expovariate(1 / (2000 if mode == "full" else 150)))
            cancelled = "SYNC_CANCELLED" if status == "cancelled" else ""
            code = rng.choice(ERROR_CODES) if status == "failed" else cancelled
            pk = uuid.uuid4()
            if not active:
                key = (conn, entity)
                known = latest.get(key)
                if known is None or queued > known.queued_at:
                    latest[key] = _Latest(pk, queued, status, finished, code)
                if status == "failed":
                    failed_runs.setdefault(conn, []).append((entity, code, pk))
            created = fetched // 10
            yield {"id": pk, "connection_id": conn, "entity": entity, "mode": mode, "trigger": pick_trigger(),
                   "requested_by": "scheduler", "request_id": f"req_{pk.hex[:24]}", "status": status,
                   "queued_at": queued, "started_at": None if status == "queued" else started,
                   "finished_at": finished, "heartbeat_at": finished or now,
                   "cursor_from": {"updated_at": (queued - timedelta(hours=1)).isoformat()},
                   "cursor_to": {"updated_at": queued.isoformat()} if status == "succeeded" else None,
                   "checkpoint": {"reader": {"page": 3}} if status != "succeeded" else {},
                   "pages": fetched // 200 + (status != "queued"), "fetched": fetched, "created": created,
                   "updated": fetched - created, "unchanged": 0, "deleted": 0, "failed_records": 0,
                   "error_code": code, "error_message": f"bench {code}" if code else "",
                   "error_details": {"status": 503} if code else {}, "cancel_requested": False,
                   "timeline": [{"at": queued.isoformat(), "event": "queued", "trigger": "schedule"},
                                {"at": started.isoformat(), "event": "started"}]}

    count = insert_rows(SyncRun, rows())
    return latest, failed_runs, count


def _seed_states(*, connections: list, latest: dict, now: datetime) -> int:
    def rows():
        for conn in connections:
            for entity in ENTITIES:
                last = latest.get((conn, entity))
                ok = last is not None and last.status == "succeeded"
                yield {"connection_id": conn, "entity": entity,
                       "cursor": {"updated_at": now.isoformat()} if ok else None,
                       "last_success_at": last.finished_at if ok else None,
                       "last_attempt_at": last.finished_at if last else None,
                       "next_due_at": now + timedelta(minutes=30), "consecutive_failures": 0 if ok or not last else 1,
                       "record_count": 1000, "last_run_id": last.run_id if last else None,
                       "last_error_code": last.error_code if last and not ok else "",
                       "last_error_message": f"bench {last.error_code}" if last and not ok else ""}

    return insert_rows(SyncState, rows())


def _seed_incidents(*, failed_runs: dict, statuses: dict, rng: random.Random, now: datetime) -> int:
    def rows():
        for conn, failures in failed_runs.items():
            if statuses[conn] not in ("auth_failed", "unreachable") and rng.random() > 0.03:
                continue
            seen = set()
            for entity, code, run_id in failures[-4:]:
                if (entity, code) in seen:
                    continue
                seen.add((entity, code))
                first = now - timedelta(hours=rng.randint(2, 200))
                yield {"connection_id": conn, "entity": entity, "error_code": code,
                       "status": "acknowledged" if rng.random() < 0.2 else "open", "first_seen": first,
                       "last_seen": first + timedelta(hours=1), "occurrences": rng.randint(1, 40),
                       "last_run_id": run_id,
                       "message": f"bench {code}", "acknowledged_by": "", "acknowledged_at": None,
                       "resolved_at": None}

    return insert_rows(Incident, rows())


def _seed_audit(*, n: int, connections: list, rng: random.Random, now: datetime) -> int:
    actors = ("scheduler", "system", "ops.anna", "ops.ben", "ctk_1a2b3c4d", "sk_9f8e7d6c")

    def rows():
        for _ in range(n):
            conn = connections[rng.randrange(len(connections))]
            yield {"at": now - timedelta(seconds=rng.random() * DAYS * 86400), "actor": rng.choice(actors),
                   "source": rng.choice(AuditEvent.Source.values), "action": rng.choice(KNOWN_ACTIONS),
                   "target_type": "connection", "target_id": str(conn), "connection_id": conn,
                   "request_id": f"req_{uuid.uuid4().hex[:24]}", "details": {"bench": True}}

    return insert_rows(AuditEvent, rows())


def _seed_webhooks(*, n: int, connections: list, rng: random.Random, now: datetime) -> int:
    from webhooks.signing import secret_generate

    endpoints = []
    for i in range(30):
        endpoints.append(Endpoint.objects.create(
            url=f"https://hooks{i}.bench.example.com/plantsync", description=f"{BENCH_PREFIX}endpoint {i}",
            secret=secret_generate(), enabled=i % 10 != 9,
            connection_id=connections[i % len(connections)] if i % 3 == 0 else None,  # fewer than 30 connections too
            failing_since=now - timedelta(hours=5) if i % 10 == 8 else None,
            last_success_at=now - timedelta(minutes=3)))
    events, deliveries = [], []
    for i in range(n):
        event_id, created = uuid.uuid4(), now - timedelta(seconds=rng.random() * 3 * 86400)
        events.append({"id": event_id, "type": "sync.completed", "connection_id": connections[i % len(connections)],
                       "created_at": created, "payload": {"id": str(event_id), "type": "sync.completed", "data": {}}})
        status = "failed" if rng.random() < 0.05 else ("pending" if rng.random() < 0.01 else "succeeded")
        deliveries.append({"id": i + 1, "event_id": event_id, "endpoint_id": endpoints[i % len(endpoints)].pk,
                           "status": status, "attempts": 1, "chain_attempts": 1, "created_at": created,
                           "last_status_code": 200 if status == "succeeded" else 503, "last_latency_ms": 80,
                           "delivered_at": created if status == "succeeded" else None,
                           "next_attempt_at": now if status == "pending" else None})
    insert_rows(Event, events)
    base = Delivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    for d in deliveries:
        d["id"] += base
    count = insert_rows(Delivery, deliveries)
    insert_rows(Attempt, ({"delivery_id": d["id"], "number": 1, "at": d["created_at"],
                           "status_code": d["last_status_code"], "duration_ms": 80,
                           "error": "" if d["status"] == "succeeded" else "HTTP 503", "response_snippet": "ok"}
                          for d in deliveries))
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            for table in ("webhooks_delivery", "webhooks_attempt"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
    return count


# --- timing pages ------------------------------------------------------------------------------

@dataclass
class Timing:
    name: str
    url: str
    p50: float
    p95: float
    worst: float
    queries: int
    status: int


def bench_pages(*, client: Client, pages: list[tuple[str, str]], iterations: int, warmup: int = 2) -> list[Timing]:
    # As Django's test runner does: keep one connection across requests, so each sample times
    # the page and not a reconnect (production keeps connections with CONN_MAX_AGE).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        return [_time_page(client=client, name=name, url=url, iterations=iterations, warmup=warmup)
                for name, url in pages]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _time_page(*, client: Client, name: str, url: str, iterations: int, warmup: int) -> Timing:
    for _ in range(warmup):
        client.get(url)
    with CaptureQueriesContext(db) as queries:
        status = client.get(url).status_code
    query_count = len(queries)  # now: the next request's request_started empties the query log
    samples = []
    for _ in range(iterations):
        t = time.perf_counter()
        client.get(url)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return Timing(name=name, url=url, p50=statistics.median(samples), p95=p95, worst=samples[-1],
                  queries=query_count, status=status)


def page_list(*, now: datetime) -> list[tuple[str, str]]:
    """Every page, with ids picked from the data: a busy connection, a failed run, a busy endpoint."""
    conn = (Connection.objects.filter(customer__external_id__startswith=BENCH_PREFIX, status="active")
            .order_by("pk").first())
    conn = conn or Connection.objects.order_by("pk").first()
    run = SyncRun.objects.filter(connection=conn).order_by("-queued_at").first()
    failed = SyncRun.objects.filter(status="failed").order_by("-queued_at").first()
    endpoint = Endpoint.objects.order_by("pk").first()
    delivery = Delivery.objects.filter(endpoint=endpoint).order_by("-created_at").first() if endpoint else None
    customer = conn.customer if conn else None
    week_ago = (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    mid = (now - timedelta(days=DAYS // 2)).strftime("%Y-%m-%dT%H:%M")
    pages = [("overview", "/"), ("connections", "/connections/"),
             ("connections: search", f"/connections/?q={customer.name[:12] if customer else 'plant'}"),
             ("connections: status filter", "/connections/?status=auth_failed"),
             ("connections: page 100", "/connections/?page=100"),
             ("connect: pick", "/connect/"), ("connect: form", "/connect/sandbox/"),
             ("runs", "/runs/"), ("runs: failed", "/runs/?status=failed"), ("runs: running", "/runs/?status=running"),
             ("runs: entity+trigger", "/runs/?entity=vendors&trigger=dashboard"),
             ("runs: last 7 days, failed", f"/runs/?status=failed&since={week_ago}"),
             ("runs: until 15 days ago", f"/runs/?until={mid}"),
             ("failures", "/failures/"), ("failures: one code", "/failures/?error_code=UPSTREAM_SERVER_ERROR"),
             ("audit", "/audit/"), ("audit: actor", "/audit/?actor=ops.anna"), ("audit: family", "/audit/?action=sync"),
             ("webhooks", "/webhooks/"), ("webhook: add", "/webhooks/new"),
             ("overview: 7 d", "/?range=7d"), ("overview: 30 d", "/?range=30d"),
             ("connections: pick", f"/connections/pick?q={customer.name[:6] if customer else 'plant'}"),
             ("runs: by customer name", f"/runs/?connection_q={customer.name if customer else 'plant'}"),
             ("runs: a name too broad", f"/runs/?connection_q={customer.name[:6] if customer else 'plant'}"),
             ("audit: by customer name", f"/audit/?connection_q={customer.name if customer else 'plant'}"),
             ("connect links", "/connect-links/"), ("connect link: new", "/connect-links/new")]
    if conn:
        pages += [("connection", f"/connections/{conn.pk}/"), ("connection: live", f"/connections/{conn.pk}/live"),
                  ("connection: disconnect", f"/connections/{conn.pk}/disconnect"),
                  ("connection: 30 d", f"/connections/{conn.pk}/?range=30d"),
                  ("runs: one connection", f"/runs/?connection={conn.pk}"),
                  ("audit: one connection", f"/audit/?connection={conn.pk}")]
    if run:
        pages.append(("run", f"/runs/{run.pk}/"))
    if failed:
        pages.append(("run: failed", f"/runs/{failed.pk}/"))
    if endpoint:
        pages += [("webhook endpoint", f"/webhooks/{endpoint.pk}/"),
                  ("webhook endpoint: failed", f"/webhooks/{endpoint.pk}/?status=failed"),
                  ("webhook endpoint: 30 d", f"/webhooks/{endpoint.pk}/?range=30d"),
                  ("webhook: edit", f"/webhooks/{endpoint.pk}/edit"),
                  ("webhook: delete", f"/webhooks/{endpoint.pk}/delete")]
    if delivery:
        pages.append(("webhook delivery", f"/webhooks/deliveries/{delivery.pk}/"))
    return pages


def now_utc() -> datetime:
    return timezone.now()
