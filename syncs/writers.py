"""Writing one page of records: prepared rows in, created/updated/unchanged counts out.

PostgreSQL gets the fast path: COPY into a temporary staging table, then one merge statement.
SQLite (the embedded default) selects the page's stored hashes and upserts what changed.
Both run inside the caller's transaction, so a page and the run's checkpoint commit together.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson
from django.db import connection as db

from connections.connectors.base import Connector, MappingError


@dataclass(slots=True)
class Row:
    id: uuid.UUID
    remote_id: str
    data: str
    raw: str
    content_hash: str
    remote_updated_at: datetime


@dataclass
class PreparedPage:
    rows: list[Row]
    failures: list[str]
    max_updated_at: datetime | None


@dataclass
class PageResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def record_id(*, connection_id: uuid.UUID, entity: str, remote_id: str) -> uuid.UUID:
    return uuid.uuid5(connection_id, f"{entity}:{remote_id}")


def rows_prepare(*, connector: Connector, entity: str, connection_id: uuid.UUID, raws: list[dict]) -> PreparedPage:
    """Normalizes and hashes a page. Records that fail to map are reported, not fatal."""
    by_id: dict[uuid.UUID, Row] = {}
    failures, newest = [], None
    normalize, updated_at = connector.normalize, connector.updated_at
    for raw in raws:
        try:
            data = normalize(entity, raw)
            remote_id = str(data["remote_id"])
            changed = updated_at(entity, data)
        except (MappingError, KeyError, ValueError, TypeError) as exc:
            failures.append(str(exc)[:300])
            continue
        # Sorted keys make the bytes, and so the hash, independent of dict order.
        data_bytes = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        rid = uuid.uuid5(connection_id, f"{entity}:{remote_id}")
        by_id[rid] = Row(rid, remote_id, data_bytes.decode(), orjson.dumps(raw).decode(),
                         hashlib.blake2b(data_bytes, digest_size=16).hexdigest(), changed)
        if newest is None or changed > newest:
            newest = changed
    return PreparedPage(rows=list(by_id.values()), failures=failures, max_updated_at=newest)


class PostgresWriter:
    STAGE = "sync_stage"

    def write(self, rows: list[Row], *, connection_id, entity: str, now: datetime, marker: uuid.UUID,
              full: bool) -> PageResult:
        if not rows:
            return PageResult()
        with db.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {self.STAGE} (id uuid, remote_id text, data jsonb, raw jsonb, "
                "content_hash text, remote_updated_at timestamptz) ON COMMIT DELETE ROWS")
            with cursor.cursor.copy(f"COPY {self.STAGE} (id, remote_id, data, raw, content_hash, remote_updated_at) "
                                    "FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((row.id, row.remote_id, row.data, row.raw, row.content_hash, row.remote_updated_at))
            # Unchanged rows are left alone (the WHERE on the update), so a re-sync rewrites nothing.
            cursor.execute(
                f"""INSERT INTO syncs_record AS r (id, connection_id, entity, remote_id, data, raw, content_hash,
                        remote_updated_at, modified_at, last_seen_run, deleted_at)
                    SELECT s.id, %s, %s, s.remote_id, s.data, s.raw, s.content_hash, s.remote_updated_at, %s, %s, NULL
                    FROM {self.STAGE} s
                    ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, raw = EXCLUDED.raw,
                        content_hash = EXCLUDED.content_hash, remote_updated_at = EXCLUDED.remote_updated_at,
                        modified_at = EXCLUDED.modified_at, last_seen_run = EXCLUDED.last_seen_run, deleted_at = NULL
                    WHERE r.content_hash <> EXCLUDED.content_hash OR r.deleted_at IS NOT NULL
                    RETURNING (xmax = 0)""",
                [connection_id, entity, now, marker])
            written = [inserted for (inserted,) in cursor.fetchall()]
            if full:
                # A full re-sync must mark every record it saw, changed or not, for deletion detection.
                cursor.execute(
                    f"UPDATE syncs_record r SET last_seen_run = %s FROM {self.STAGE} s "
                    "WHERE r.id = s.id AND r.last_seen_run IS DISTINCT FROM %s", [marker, marker])
            # ON COMMIT empties it too, but the caller's transaction may span several pages.
            cursor.execute(f"TRUNCATE {self.STAGE}")
        created = sum(written)
        return PageResult(created=created, updated=len(written) - created, unchanged=len(rows) - len(written))


class SqliteWriter:
    """The embedded default's simpler path: one read of the page's hashes, then batched upserts."""

    def write(self, rows: list[Row], *, connection_id, entity: str, now: datetime, marker: uuid.UUID,
              full: bool) -> PageResult:
        if not rows:
            return PageResult()
        ops = db.ops
        ids = [row.id.hex for row in rows]
        with db.cursor() as cursor:
            cursor.execute(f"SELECT id, content_hash, deleted_at IS NOT NULL FROM syncs_record "
                           f"WHERE id IN ({','.join(['%s'] * len(ids))})", ids)
            stored = {rid: (content_hash, deleted) for rid, content_hash, deleted in cursor.fetchall()}
            result, changed, unchanged = PageResult(), [], []
            for row in rows:
                before = stored.get(row.id.hex)
                if before is None:
                    result.created += 1
                elif before[0] != row.content_hash or before[1]:
                    result.updated += 1
                else:
                    result.unchanged += 1
                    unchanged.append(row.id.hex)
                    continue
                changed.append((row.id.hex, connection_id.hex, entity, row.remote_id, row.data, row.raw,
                                row.content_hash, ops.adapt_datetimefield_value(row.remote_updated_at),
                                ops.adapt_datetimefield_value(now), marker.hex))
            if changed:
                cursor.executemany(
                    """INSERT INTO syncs_record (id, connection_id, entity, remote_id, data, raw, content_hash,
                           remote_updated_at, modified_at, last_seen_run, deleted_at)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL)
                       ON CONFLICT (id) DO UPDATE SET data = excluded.data, raw = excluded.raw,
                           content_hash = excluded.content_hash, remote_updated_at = excluded.remote_updated_at,
                           modified_at = excluded.modified_at, last_seen_run = excluded.last_seen_run,
                           deleted_at = NULL""", changed)
            if full and unchanged:
                cursor.execute(f"UPDATE syncs_record SET last_seen_run = %s "
                               f"WHERE id IN ({','.join(['%s'] * len(unchanged))})", [marker.hex, *unchanged])
        return result


def writer_for_database():
    return PostgresWriter() if db.vendor == "postgresql" else SqliteWriter()
