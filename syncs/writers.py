"""Writing one page of records: prepared rows in, created/updated/unchanged counts out.

The page's stored hashes are read once; new rows are inserted (COPY straight into the table on
PostgreSQL), changed rows updated (through a COPY'd staging table on PostgreSQL), unchanged rows
left alone. Everything runs inside the caller's transaction, so a page and the run's checkpoint
commit together.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson
from django.db import IntegrityError
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
    # Filled by the writer on the reader thread: work done there is off the writing thread.
    preformatted: list[str] | None = None


class InitialLoadCollision(Exception):
    """An initial load's optimistic insert met an id already stored: the page must be rolled back
    and written again with its rows classified."""


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
        rid = record_id(connection_id=connection_id, entity=entity, remote_id=remote_id)
        by_id[rid] = Row(rid, remote_id, data_bytes.decode(), orjson.dumps(raw).decode(),
                         hashlib.blake2b(data_bytes, digest_size=16).hexdigest(), changed)
        if newest is None or changed > newest:
            newest = changed
    return PreparedPage(rows=list(by_id.values()), failures=failures, max_updated_at=newest)


class PageWriter:
    """Sorts a page into new, changed and unchanged rows by the stored hashes, then writes each
    kind with one batched statement. Only one run per (connection, entity) is active at a time,
    so no other writer adds these ids between the read and the write."""

    # Set by the engine when the store held nothing for this connection and entity as the run
    # began: an initial load skips reading hashes it knows are absent. A duplicate after all (an
    # upstream repeating a record across pages) fails the optimistic insert, and from then on
    # pages are classified as usual.
    assume_new = False

    def write(self, page: PreparedPage, *, connection_id, entity: str, now: datetime, marker: uuid.UUID,
              full: bool) -> PageResult:
        rows = page.rows
        if not rows:
            return PageResult()
        if self.assume_new:
            # No savepoint: it would cost two round trips a page. The caller rolls the page's
            # transaction back on InitialLoadCollision and writes the page again, classified.
            try:
                with db.cursor() as cursor:
                    self.prepare_transaction(cursor)
                    self.insert(cursor, rows, connection_id=connection_id, entity=entity, now=now, marker=marker,
                                lines=page.preformatted)
                return PageResult(created=len(rows))
            except (IntegrityError, db.Database.IntegrityError) as exc:  # COPY raises the driver's own error
                raise InitialLoadCollision() from exc
        stored = self.stored_hashes([row.id for row in rows])
        new, new_lines, changed, unchanged = [], [], [], []
        for i, row in enumerate(rows):
            before = stored.get(row.id)
            if before is None:
                new.append(row)
                if page.preformatted:
                    new_lines.append(page.preformatted[i])
            elif before[0] != row.content_hash or before[1]:
                changed.append(row)
            else:
                unchanged.append(row.id)
        with db.cursor() as cursor:
            self.prepare_transaction(cursor)
            if new:
                self.insert(cursor, new, connection_id=connection_id, entity=entity, now=now, marker=marker,
                            lines=new_lines or None)
            if changed:
                self.update(cursor, changed, now=now, marker=marker)
            # A full re-sync marks every record it saw, changed or not, for deletion detection.
            if full and unchanged:
                self.mark_seen(cursor, unchanged, marker=marker)
        return PageResult(created=len(new), updated=len(changed), unchanged=len(unchanged))

    def prepare_transaction(self, cursor) -> None:
        pass

    def preformat(self, page: PreparedPage, *, connection_id, entity: str) -> None:
        pass


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _json_for_copy(text: str) -> str:
    # JSON text never holds a raw tab, newline or carriage return (they are escaped inside
    # strings), so the backslash is the one character COPY's text format needs doubled.
    return text.replace("\\", "\\\\")


class PostgresWriter(PageWriter):
    """New rows go straight into the table with COPY; changed rows through a staging table."""

    STAGE = "sync_stage"
    COLUMNS = "id, connection_id, entity, remote_id, data, raw, content_hash, remote_updated_at, modified_at, last_seen_run"

    def stored_hashes(self, ids: list[uuid.UUID]) -> dict:
        with db.cursor() as cursor:
            cursor.execute("SELECT id, content_hash, deleted_at IS NOT NULL FROM syncs_record WHERE id = ANY(%s)", [ids])
            return {rid: (content_hash, deleted) for rid, content_hash, deleted in cursor.fetchall()}

    def prepare_transaction(self, cursor) -> None:
        # Pages commit without waiting for the WAL flush. A database crash can then lose the last
        # pages, but each page and its checkpoint commit together, so the run resumes before them.
        # The run's final transaction commits normally and flushes everything before it.
        cursor.execute("SET LOCAL synchronous_commit = off")

    def preformat(self, page: PreparedPage, *, connection_id, entity: str) -> None:
        """COPY text lines up to the modified_at column, built on the reader thread, so the
        writing thread hands PostgreSQL one string per page instead of formatting row by row."""
        head = f"\t{connection_id}\t{entity}\t"
        page.preformatted = [
            f"{r.id}{head}{r.remote_id.translate(_COPY_ESCAPES)}\t{_json_for_copy(r.data)}\t"
            f"{_json_for_copy(r.raw)}\t{r.content_hash}\t{r.remote_updated_at.isoformat()}\t"
            for r in page.rows]

    def insert(self, cursor, rows, *, connection_id, entity, now, marker, lines=None) -> None:
        with cursor.cursor.copy(f"COPY syncs_record ({self.COLUMNS}) FROM STDIN") as copy:
            if lines is not None:
                tail = f"{now.isoformat()}\t{marker}\n"
                copy.write(tail.join(lines) + tail)
                return
            for r in rows:
                copy.write_row((r.id, connection_id, entity, r.remote_id, r.data, r.raw, r.content_hash,
                                r.remote_updated_at, now, marker))

    def update(self, cursor, rows, *, now, marker) -> None:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {self.STAGE} (id uuid, data jsonb, raw jsonb, "
                       "content_hash text, remote_updated_at timestamptz) ON COMMIT DELETE ROWS")
        with cursor.cursor.copy(f"COPY {self.STAGE} (id, data, raw, content_hash, remote_updated_at) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r.id, r.data, r.raw, r.content_hash, r.remote_updated_at))
        cursor.execute(
            f"""UPDATE syncs_record r SET data = s.data, raw = s.raw, content_hash = s.content_hash,
                    remote_updated_at = s.remote_updated_at, modified_at = %s, last_seen_run = %s, deleted_at = NULL
                FROM {self.STAGE} s WHERE r.id = s.id""", [now, marker])
        # ON COMMIT empties it too, but the caller's transaction may span several pages.
        cursor.execute(f"TRUNCATE {self.STAGE}")

    def mark_seen(self, cursor, ids, *, marker) -> None:
        cursor.execute("UPDATE syncs_record SET last_seen_run = %s WHERE id = ANY(%s)", [marker, ids])


class SqliteWriter(PageWriter):
    """The embedded default: the same three statements as executemany and IN lists."""

    def stored_hashes(self, ids: list[uuid.UUID]) -> dict:
        with db.cursor() as cursor:
            cursor.execute(f"SELECT id, content_hash, deleted_at IS NOT NULL FROM syncs_record "
                           f"WHERE id IN ({','.join(['%s'] * len(ids))})", [i.hex for i in ids])
            return {uuid.UUID(rid): (content_hash, deleted) for rid, content_hash, deleted in cursor.fetchall()}

    def insert(self, cursor, rows, *, connection_id, entity, now, marker, lines=None) -> None:
        adapt = db.ops.adapt_datetimefield_value
        cursor.executemany(
            """INSERT INTO syncs_record (id, connection_id, entity, remote_id, data, raw, content_hash,
                   remote_updated_at, modified_at, last_seen_run) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [(r.id.hex, connection_id.hex, entity, r.remote_id, r.data, r.raw, r.content_hash,
              adapt(r.remote_updated_at), adapt(now), marker.hex) for r in rows])

    def update(self, cursor, rows, *, now, marker) -> None:
        adapt = db.ops.adapt_datetimefield_value
        cursor.executemany(
            """UPDATE syncs_record SET data = %s, raw = %s, content_hash = %s, remote_updated_at = %s,
                   modified_at = %s, last_seen_run = %s, deleted_at = NULL WHERE id = %s""",
            [(r.data, r.raw, r.content_hash, adapt(r.remote_updated_at), adapt(now), marker.hex, r.id.hex)
             for r in rows])

    def mark_seen(self, cursor, ids, *, marker) -> None:
        cursor.execute(f"UPDATE syncs_record SET last_seen_run = %s WHERE id IN ({','.join(['%s'] * len(ids))})",
                       [marker.hex, *(i.hex for i in ids)])


def writer_for_database():
    return PostgresWriter() if db.vendor == "postgresql" else SqliteWriter()
