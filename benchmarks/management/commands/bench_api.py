"""Benchmarks GET of a records page through the whole API stack (middleware, auth, rate limit,
keyset query, rendering), on the first page and on a deep one.

    python manage.py bench_api --records 1000000

Seeds N purchase orders for one connection (COPY on PostgreSQL, batched inserts on SQLite),
then times GET /api/v1/purchase-orders?page_size=100 with Django's test client, alternating
the first page and the page after the record at --deep (default 90 % of the way in).
"""

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from django.core.management.base import BaseCommand, CommandError
from django.db import connection as db
from django.db import transaction
from django.test import Client
from django.test.utils import override_settings

from connections.connectors.registry import connector_class
from connections.models import Connection, Customer
from connections.services import connection_token_issue
from core.api_pagination import cursor_encode
from syncs.models import Record

ENTITY = "purchase_orders"
BENCH_NAME = "API benchmark"
POOL = 1000  # distinct record bodies, reused with new ids
SAME_PAGE = 50  # records written in one engine page share a change-feed position, as in real syncs


class Command(BaseCommand):
    help = "Seeds N records for one connection and prints p50/p99 of GET of a 100-record page (first and deep)."

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=1_000_000)
        parser.add_argument("--requests", type=int, default=300, help="Timed requests per page (after warm-up)")
        parser.add_argument("--page-size", type=int, default=100)
        parser.add_argument("--deep", type=float, default=0.9, help="Where the deep page starts, as a fraction")
        parser.add_argument("--reuse", action="store_true", help="Keep an existing benchmark seed of the same size")
        parser.add_argument("--cleanup", action="store_true", help="Delete the benchmark connection afterwards")

    def handle(self, *args, **options):
        n, page_size = options["records"], options["page_size"]
        if n < page_size * 2 or not 0 < options["deep"] < 1:
            raise CommandError("--records must be at least twice --page-size, and --deep between 0 and 1")
        # Requests are counted like any other, but never refused.
        with override_settings(API_RATE_LIMIT=10 ** 9):
            self.run(n, page_size, options)

    def run(self, n: int, page_size: int, options: dict) -> None:
        connection = self.seeded_connection(n, reuse=options["reuse"])
        token = connection_token_issue(connection=connection)
        deep_offset = min(int(n * options["deep"]), n - page_size)  # a full page must follow it
        anchor = (Record.objects.filter(connection=connection, entity=ENTITY).order_by("change_seq", "id")
                  .values_list("change_seq", "id")[deep_offset - 1])
        deep_cursor = cursor_encode(kind=f"changes:{ENTITY}", values=list(anchor))

        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        path = "/api/v1/purchase-orders"
        first_params, deep_params = {"page_size": page_size}, {"page_size": page_size, "cursor": deep_cursor}
        for params in (first_params, deep_params):
            body = client.get(path, params).json()
            if len(body["data"]) != page_size:
                raise CommandError(f"expected {page_size} records, got {len(body['data'])}")
        for _ in range(20):  # warm-up: connections, caches, the planner
            client.get(path, first_params)
            client.get(path, deep_params)
        first, deep = [], []
        for _ in range(options["requests"]):
            for params, samples in ((first_params, first), (deep_params, deep)):
                started = time.perf_counter()
                response = client.get(path, params)
                samples.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise CommandError(f"GET answered {response.status_code}: {response.content[:300]!r}")
        size = len(response.content)
        self.report(n=n, page_size=page_size, deep_offset=deep_offset, first=first, deep=deep, size=size)
        if options["cleanup"]:
            Record.objects.filter(connection=connection).delete()
            connection.delete()
            self.stdout.write("Deleted the benchmark connection and its records.")

    # --- seeding -----------------------------------------------------------------------------

    def seeded_connection(self, n: int, *, reuse: bool) -> Connection:
        existing = Connection.objects.filter(name=BENCH_NAME, customer__name=BENCH_NAME).first()
        if existing and reuse and Record.objects.filter(connection=existing, entity=ENTITY).count() == n:
            self.stdout.write(f"Reusing the {n} records already seeded.")
            return existing
        if existing:
            Record.objects.filter(connection=existing).delete()
            existing.delete()
        customer, _ = Customer.objects.get_or_create(name=BENCH_NAME)
        # Made directly, not through connection_create: no initial sync may touch the seeded data,
        # and without SyncStates the scheduler never picks it up.
        connection = Connection.objects.create(customer=customer, connector="sandbox", name=BENCH_NAME,
                                               status=Connection.Status.ACTIVE, entities=[ENTITY],
                                               config={"seed": 9, "records": POOL}, credentials={"api_key": "bench"})
        started = time.perf_counter()
        self.seed(connection, n)
        if db.vendor == "postgresql":
            with db.cursor() as cursor:
                cursor.execute("ANALYZE syncs_record")
        self.stdout.write(f"Seeded {n} records in {time.perf_counter() - started:.1f} s ({db.vendor}).")
        return connection

    def pool(self, connection: Connection) -> list[tuple[dict, dict]]:
        connector = connector_class("sandbox")(config=connection.config, credentials=connection.credentials)
        now = time.time()
        result = []
        for i in range(POOL):
            raw = connector.raw(ENTITY, i, *connector.timing(ENTITY, i, now))
            result.append((connector.normalize(ENTITY, raw), raw))
        return result

    def rows(self, connection: Connection, n: int):
        pool = self.pool(connection)
        base = datetime.now(UTC) - timedelta(days=30)
        for i in range(n):
            data, raw = pool[i % POOL]
            remote_id = f"PO{i}"
            data = {**data, "remote_id": remote_id, "number": str(4500000000 + i)}
            raw = {**raw, "Id": remote_id, "PurchaseOrder": data["number"]}
            modified_at = base + timedelta(milliseconds=i // SAME_PAGE)
            yield (uuid.uuid5(connection.pk, f"{ENTITY}:{remote_id}"), connection.pk, ENTITY, remote_id,
                   orjson.dumps(data).decode(), orjson.dumps(raw).decode(), f"{i:032x}",
                   datetime.fromisoformat(data["updated_at"]), modified_at, i // SAME_PAGE + 1)

    def seed(self, connection: Connection, n: int) -> None:
        columns = ("id, connection_id, entity, remote_id, data, raw, content_hash, remote_updated_at, modified_at, "
                   "change_seq")
        if db.vendor == "postgresql":
            with transaction.atomic(), db.cursor() as cursor:
                with cursor.cursor.copy(f"COPY syncs_record ({columns}) FROM STDIN") as copy:
                    for row in self.rows(connection, n):
                        copy.write_row(row)
            return
        ops, batch = db.ops, []
        with db.cursor() as cursor:
            for row in self.rows(connection, n):
                batch.append((row[0].hex, row[1].hex, *row[2:7], ops.adapt_datetimefield_value(row[7]),
                              ops.adapt_datetimefield_value(row[8]), row[9]))
                if len(batch) == 10_000:
                    self.insert(cursor, columns, batch)
                    batch = []
            if batch:
                self.insert(cursor, columns, batch)

    @staticmethod
    def insert(cursor, columns: str, batch: list) -> None:
        with transaction.atomic():
            cursor.executemany(f"INSERT INTO syncs_record ({columns}) VALUES ({', '.join(['%s'] * 10)})", batch)

    # --- the report ----------------------------------------------------------------------------

    def report(self, *, n, page_size, deep_offset, first, deep, size) -> None:
        def p(samples, q):
            return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]

        rows = [("first page", first), (f"deep page (after record {deep_offset:,})", deep)]
        self.stdout.write(f"\nGET /api/v1/purchase-orders?page_size={page_size} on {db.vendor}, {n:,} records, "
                          f"{len(first)} requests each, {size:,} bytes per page")
        for label, samples in rows:
            self.stdout.write(f"  {label:<38} p50 {p(samples, 50):7.2f} ms   p99 {p(samples, 99):7.2f} ms   "
                              f"max {max(samples):7.2f} ms")
        ratio_50, ratio_99 = p(deep, 50) / p(first, 50), p(deep, 99) / p(first, 99)
        self.stdout.write(f"  deep / first: p50 x{ratio_50:.2f}, p99 x{ratio_99:.2f}")
