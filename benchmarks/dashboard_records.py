"""The record browser's share of bench_dashboard: a million records in one (connection, entity),
written straight into the table like the rest of the data set, and the browser's pages to time.

The records are purchase orders of the connection page_list times (the first active benchmark
connection), changed DAYS days apart in feed positions of PAGE records (one sync page, one
transaction each), so modified_at rises with change_seq as a real feed's does. One in DELETED_EVERY
is deleted: the "only deleted" filter has a few thousand to page through, not a million.
"""

import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection as db

from benchmarks.dashboard import BENCH_PREFIX, DAYS, insert_rows
from connections.models import Connection
from dashboard.selectors.records import RecordFilters, record_list
from syncs.models import Record, SyncState

ENTITY = "purchase_orders"
PAGE = 500
DELETED_EVERY = 250


def records_connection() -> Connection | None:
    """The connection whose records are seeded and browsed: the one bench_dashboard's page_list opens."""
    return (Connection.objects.filter(customer__external_id__startswith=BENCH_PREFIX, status="active")
            .order_by("pk").first())


def number(i: int) -> str:
    return f"45{i:08d}"


def seed_records(*, n: int, now: datetime, log: Callable[[str], None] = print, rng_seed: int = 7) -> int:
    connection = records_connection()
    if connection is None or n <= 0:
        return 0
    rng = random.Random(rng_seed)
    positions = max(1, (n + PAGE - 1) // PAGE)
    step = timedelta(days=DAYS) / positions
    start = now - timedelta(days=DAYS)

    def rows():
        for i in range(n):
            seq = i // PAGE + 1
            modified = start + step * seq
            remote_id = f"{4_000_000 + i}"
            yield {"id": uuid.uuid5(connection.pk, f"{ENTITY}:{remote_id}"), "connection_id": connection.pk,
                   "entity": ENTITY, "remote_id": remote_id, "data": _unified(i, remote_id, modified, rng),
                   "raw": _raw(i, modified), "content_hash": f"{i:032x}", "input_hash": f"{i:032x}",
                   "remote_updated_at": modified - timedelta(minutes=5), "modified_at": modified,
                   "change_seq": seq, "deleted_at": modified if i % DELETED_EVERY == DELETED_EVERY - 1 else None}

    count = insert_rows(Record, rows())
    SyncState.objects.filter(connection=connection, entity=ENTITY).update(
        change_seq=positions, change_at=start + step * positions, record_count=count)
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("ANALYZE syncs_record" if db.in_atomic_block else "VACUUM ANALYZE syncs_record")
    log(f"  {count} records of {ENTITY} in connection {connection.pk}")
    return count


def _unified(i: int, remote_id: str, modified: datetime, rng: random.Random) -> dict:
    return {"remote_id": remote_id, "number": number(i), "upstream_status": "REL", "status": "open",
            "created_at": (modified - timedelta(days=3)).isoformat(), "updated_at": modified.isoformat(),
            "deleted_at": None, "vendor": {"remote_id": f"V{i % 900:04d}", "name": f"Vendor {i % 900}"},
            "order_date": modified.date().isoformat(), "currency": "EUR", "total": f"{rng.randint(100, 99999)}.00",
            "lines": [{"line_number": 10 * (k + 1), "item_code": f"MAT-{(i + k) % 5000:05d}", "quantity": "4",
                       "unit_price": "12.50", "amount": "50.00"} for k in range(3)],
            "custom_fields": {}}


def _raw(i: int, modified: datetime) -> dict:
    return {"PurchaseOrder": number(i), "CompanyCode": "1000", "Supplier": f"{100000 + i % 900}",
            "LastChangeDateTime": modified.isoformat(), "DocumentCurrency": "EUR",
            "to_PurchaseOrderItem": [{"PurchaseOrderItem": f"{10 * (k + 1):05d}",
                                      "Material": f"MAT-{(i + k) % 5000:05d}", "OrderQuantity": "4"}
                                     for k in range(3)]}


def page_list(*, now: datetime) -> list[tuple[str, str]]:
    """The list newest first, its second page, a number found whole and by its start, a remote id,
    the two filters, and one record's page."""
    connection = records_connection()
    newest = Record.objects.filter(connection=connection, entity=ENTITY).order_by("-change_seq", "-pk").first()
    if newest is None:
        return []
    base = f"/connections/{connection.pk}/records/{ENTITY}"
    middle = Record.objects.filter(connection=connection, entity=ENTITY,
                                   change_seq__gte=newest.change_seq // 2).order_by("change_seq").first()
    found = middle.data["number"]
    second = record_list(connection=connection, entity=ENTITY, filters=RecordFilters(), cursor=None).next_cursor
    week_ago = (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    pages = [("records", f"{base}"), ("records: search a number", f"{base}?q={found}"),
             ("records: a number's start", f"{base}?q={found[:-2]}"),
             ("records: a remote id", f"{base}?q={middle.remote_id}"),
             ("records: changed in 7 days", f"{base}?since={week_ago}"),
             ("records: only deleted", f"{base}?deleted=deleted"),
             ("records: live, 7 days, start", f"{base}?deleted=live&since={week_ago}&q=45"),
             ("record", f"{base}/{newest.pk}")]
    if second:
        pages.insert(1, ("records: page 2", f"{base}?cursor={second}"))
    return pages
