"""Writing one page of records: prepared rows in, created/updated/unchanged counts out.

The page's stored hashes are compared once; new rows are inserted (COPY straight into the table on
PostgreSQL), changed rows updated (through a COPY'd staging table on PostgreSQL), unchanged rows
left alone. A run over the whole window also stores the page's ids as one seen page (syncs/seen.py),
so deletions are found without writing the rows it saw. Everything runs inside the caller's
transaction, so a page and the run's checkpoint commit together.
"""

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import orjson
from django.conf import settings
from django.db import IntegrityError
from django.db import connection as db
from django.utils.dateparse import parse_datetime

from connections.connectors.base import Connector, MappingError
from connections.connectors.fingerprint import mapping_fingerprint
from connections.connectors.schema import record_validate
from syncs.models import Record
from syncs.seen import seen_pages_incomplete, unseen_condition


@dataclass(slots=True)
class Row:
    id: uuid.UUID
    remote_id: str
    data: str
    raw: str
    content_hash: str
    remote_updated_at: datetime | None
    # blake2b of the mapping fingerprint and the raw JSON (connections/connectors/fingerprint.py).
    input_hash: str = ""
    # A row read but not normalized yet (a lazy page): its raw dict and raw JSON. data,
    # content_hash and remote_updated_at are empty until the writer normalizes it.
    source: tuple[dict, bytes] | None = None


@dataclass
class PreparedPage:
    rows: list[Row]
    # One {"remote_id", "error"} per record that failed to map; remote_id None: not identifiable.
    failures: list[dict]
    max_updated_at: datetime | None
    # Records identified but not mapped: seen by the run (never marked deleted), stored copy kept.
    failed_ids: list[uuid.UUID] = field(default_factory=list)
    unidentified: int = 0
    # Tombstones the upstream sent with the page (Page.deleted_remote_ids), as record ids.
    deleted_ids: list[uuid.UUID] = field(default_factory=list)
    # Filled by the writer on the reader thread: work done there is off the writing thread.
    preformatted: list[str] | None = None
    # False: the rows were identified, normalized and hashed but not yet checked against the
    # unified schema. The writer checks the ones it is about to store, in the JSON form they are
    # stored in; one that did not change is not stored again, so it is not checked again either.
    validated: bool = True
    # Set on a page prepared without normalizing (validate=False): the writer normalizes only the
    # rows whose stored input hash differs, with this connector. max_updated_at is then the
    # writer's to fill in.
    connector: Connector | None = None
    entity: str = ""


class InitialLoadCollision(Exception):
    """An initial load's optimistic insert met an id already stored: the page must be rolled back
    and written again with its rows classified."""


@dataclass(frozen=True)
class ChangePosition:
    seq: int
    at: datetime  # what modified_at becomes for every change at this position


@dataclass
class PageResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    seen_pages: int = 0  # 1 when the page's ids were stored as a seen page


# What a connector's remote_id(), normalize() or updated_at() may raise for one bad record.
RECORD_ERRORS = (MappingError, KeyError, ValueError, TypeError, AttributeError)


def record_id(*, connection_id: uuid.UUID, entity: str, remote_id: str) -> uuid.UUID:
    return uuid.uuid5(connection_id, f"{entity}:{remote_id}")


def rows_prepare(*, connector: Connector, entity: str, connection_id: uuid.UUID, raws: list[dict],
                 validate: bool = True) -> PreparedPage:
    """Identifies, normalizes, validates and hashes a page. Records that fail are reported, not fatal.

    `validate=False` (every run but an initial load) only identifies the records and hashes their
    input: the writer normalizes the ones whose stored input hash differs (rows_normalize) and
    checks the schema only for the rows it stores (rows_validate), so a re-sync of unchanged
    records runs no mapping at all."""
    page = PreparedPage(rows=[], failures=[], max_updated_at=None, validated=validate)
    by_id: dict[uuid.UUID, Row] = {}
    fingerprint = mapping_fingerprint(connector=connector)
    if not validate:
        page.connector, page.entity = connector, entity
    for raw in raws:
        try:
            remote_id = str(connector.remote_id(entity, raw))
        except RECORD_ERRORS as exc:
            page.failures.append({"remote_id": None, "error": _reason(exc)})
            page.unidentified += 1
            continue
        rid = record_id(connection_id=connection_id, entity=entity, remote_id=remote_id)
        raw_bytes = orjson.dumps(raw, default=_raw_default, option=orjson.OPT_SORT_KEYS)
        input_hash = hashlib.blake2b(fingerprint + raw_bytes, digest_size=16).hexdigest()
        if not validate:
            by_id[rid] = Row(rid, remote_id, "", "", "", None, input_hash, (raw, raw_bytes))
            continue
        try:
            row = _row(connector, entity, raw, rid, remote_id, validate, raw_bytes, input_hash)
        except RECORD_ERRORS as exc:
            page.failures.append({"remote_id": remote_id, "error": _reason(exc)})
            page.failed_ids.append(rid)
            continue
        by_id[rid] = row
        if page.max_updated_at is None or row.remote_updated_at > page.max_updated_at:
            page.max_updated_at = row.remote_updated_at
    page.rows = list(by_id.values())
    return page


def rows_normalize(page: PreparedPage, rows: list[Row]) -> list[Row]:
    """Normalizes rows of a lazy page, as rows_prepare does up front, without the schema check
    (rows_validate makes it for the ones stored). A record that fails to map becomes the page's
    mapping failure exactly as one found up front: still seen, its stored copy kept."""
    normalized = []
    for row in rows:
        raw, raw_bytes = row.source
        try:
            normalized.append(_row(page.connector, page.entity, raw, row.id, row.remote_id, False, raw_bytes,
                                   row.input_hash))
        except RECORD_ERRORS as exc:
            page.failures.append({"remote_id": row.remote_id, "error": _reason(exc)})
            page.failed_ids.append(row.id)
    return normalized


def _row(connector: Connector, entity: str, raw: dict, rid: uuid.UUID, remote_id: str, validate: bool,
         raw_bytes: bytes, input_hash: str) -> Row:
    data = connector.normalize(entity, raw)
    data["remote_id"] = remote_id  # the identity is remote_id()'s, whatever normalize() copied
    # Nothing is stored half-right: a record off the unified schema (docs/entities.md) is this
    # record's mapping failure. The connector's dict is stored as it is, so only valid data is.
    if validate:
        record_validate(entity, data)
    try:
        changed = connector.updated_at(entity, data)
        if not isinstance(changed, datetime) or changed.utcoffset() is None:
            raise MappingError(f"updated_at {changed!r} has no UTC offset; connectors must return timezone-aware "
                               "times")
    except RECORD_ERRORS:
        if not validate:
            record_validate(entity, data)  # the schema's words name the field, as when validated first
        raise
    # Sorted keys make the bytes, and so the hash, independent of dict order. The hash covers
    # raw too: the API serves raw, so a change only in fields the mapping ignores is a change.
    data_bytes = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.blake2b(data_bytes, digest_size=16)
    digest.update(raw_bytes)
    return Row(rid, remote_id, data_bytes.decode(), raw_bytes.decode(), digest.hexdigest(), changed, input_hash)


def rows_validate(page: PreparedPage, rows: list[Row], *, entity: str) -> set[uuid.UUID]:
    """Checks rows of a page prepared without validation (the ones about to be stored) against
    the unified schema, as the JSON they are stored as: keeping every normalized dict until the
    write would cost the reader more in garbage collection than the check it skips. A row that
    fails becomes the page's mapping failure (still seen, its stored copy kept). Returns the ids
    that failed."""
    failed = set()
    for row in rows:
        try:
            record_validate(entity, orjson.loads(row.data))
        except RECORD_ERRORS as exc:
            page.failures.append({"remote_id": row.remote_id, "error": _reason(exc)})
            page.failed_ids.append(row.id)
            failed.add(row.id)
    if failed:
        page.rows = [row for row in page.rows if row.id not in failed]
        # The high-water mark counts stored records only, as when failures are found up front.
        page.max_updated_at = max((row.remote_updated_at for row in page.rows), default=None)
    return failed


def _raw_default(value):
    # The upstream client reads JSON numbers with a fraction as Decimal (never float); raw keeps
    # them as their decimal text. Only called for types orjson cannot write, so it costs the
    # sandbox's plain rows nothing.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _reason(exc: Exception) -> str:
    text = str(exc) if isinstance(exc, MappingError) else f"{type(exc).__name__}: {exc}"
    return text[:300]


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
              full: bool, seen_page: int = 0) -> PageResult:
        """`full`: the run reads the whole window (a full run, or an incremental one whose upstream
        cannot filter by changed-since), so the ids of every record it sees are stored as seen
        page number `seen_page` for deletion detection; the rows themselves are not touched."""
        # Statements nothing waits on go with the page's next query (execute): on PostgreSQL a
        # re-sync's unchanged page then costs one query before its checkpoint, not three.
        self.pending = self.transaction_statements()
        result_seen = 0
        # Every record the page identified is seen: those that failed to map are still there upstream.
        if full and (page.rows or page.failed_ids):
            self.pending.append(self.seen_statement(page, connection_id=connection_id, entity=entity, marker=marker,
                                                    number=seen_page, now=now))
            result_seen = 1
        if self.assume_new and page.rows and page.validated:
            result = self.write_initial(page, connection_id=connection_id, entity=entity, now=now, marker=marker)
            position = None
        elif page.connector is not None:
            result, position = self.write_lazy(page, connection_id=connection_id, entity=entity, now=now,
                                               marker=marker)
        else:
            result, position = self.write_classified(page, connection_id=connection_id, entity=entity, now=now,
                                                     marker=marker)
        if page.deleted_ids:
            result.deleted = self.tombstones_apply(page.deleted_ids, connection_id=connection_id, entity=entity,
                                                   now=now, position=position)
        if self.pending:
            with db.cursor() as cursor:
                self.execute(cursor, None)
        result.seen_pages = result_seen
        return result

    pending: list[tuple[str, list]] = []

    def execute(self, cursor, sql: str | None, params: list | None = None) -> None:
        """Runs the pending statements, then `sql` (if any); the cursor holds the last result."""
        statements = [*self.pending, *([(sql, params or [])] if sql else [])]
        self.pending = []
        for statement, values in statements:
            cursor.execute(statement, values)

    def write_classified(self, page: PreparedPage, *, connection_id, entity: str, now: datetime,
                         marker: uuid.UUID) -> tuple[PageResult, ChangePosition | None]:
        new, new_lines, changed, unchanged = self.classify(page)
        if not page.validated:
            failed = rows_validate(page, [*new, *changed], entity=entity)
            if failed:  # (no preformatted lines here: only a validated page has them)
                new = [row for row in new if row.id not in failed]
                changed = [row for row in changed if row.id not in failed]
        position = self.changes_write(new, changed, connection_id=connection_id, entity=entity, now=now,
                                      marker=marker, new_lines=new_lines)
        return PageResult(created=len(new), updated=len(changed), unchanged=len(unchanged)), position

    def changes_write(self, new: list[Row], changed: list[Row], *, connection_id, entity: str, now: datetime,
                      marker: uuid.UUID, new_lines=None) -> ChangePosition | None:
        """Inserts the new rows and updates the changed ones under one change-feed position."""
        if not (new or changed):
            return None
        with db.cursor() as cursor:
            position = self.change_position_take(cursor, connection_id=connection_id, entity=entity, now=now)
            if new:
                self.insert(cursor, new, connection_id=connection_id, entity=entity, position=position,
                            marker=marker, lines=new_lines or self.lines(new, connection_id=connection_id,
                                                                         entity=entity))
            if changed:
                self.update(cursor, changed, position=position, marker=marker)
        return position

    def write_lazy(self, page: PreparedPage, *, connection_id, entity: str, now: datetime,
                   marker: uuid.UUID) -> tuple[PageResult, ChangePosition | None]:
        """A page prepared without normalizing. A row stored live with the same input hash is
        unchanged without being mapped; the others are normalized now and classified by content
        hash as on any page. One whose content did not change after all (a deploy changed the
        fingerprint, not the output) gets only its new input hash: no feed position, no
        modified_at, so a deploy does not flood the change feed."""
        stored, unchanged_max = self.stored_inputs(page.rows) if page.rows else ({}, None)
        unchanged = len(page.rows) - len(stored)
        rows = rows_normalize(page, [row for row in page.rows if row.id in stored])
        page.rows = rows  # from here the rows that were mapped (the others are neither stored nor failed)
        tombstoned = set(page.deleted_ids)
        new, changed, inputs = [], [], []
        for row in rows:
            content_hash, deleted, same_input = stored[row.id]
            if content_hash is None:
                new.append(row)
            elif content_hash != row.content_hash or (deleted and row.id not in tombstoned):
                changed.append(row)
            else:
                unchanged += 1
                if not same_input:
                    inputs.append(row)
        failed = rows_validate(page, [*new, *changed], entity=entity)
        if failed:
            new = [row for row in new if row.id not in failed]
            changed = [row for row in changed if row.id not in failed]
        # The high-water mark is what it would be with every row mapped: an unchanged row's stored
        # time is the one its mapping gives, since neither its input nor the mapping changed.
        times = [row.remote_updated_at for row in page.rows]
        if unchanged_max is not None:
            times.append(unchanged_max)
        page.max_updated_at = max(times, default=None)
        if inputs:
            self.inputs_update(inputs)
        position = self.changes_write(new, changed, connection_id=connection_id, entity=entity, now=now,
                                      marker=marker)
        return PageResult(created=len(new), updated=len(changed), unchanged=unchanged), position

    def stored_inputs(self, rows: list[Row]) -> tuple[dict[uuid.UUID, tuple[str | None, bool, bool]],
                                                      datetime | None]:
        """({id: (stored content hash or None if not stored, deleted, same input hash)} for the
        rows not stored live with the same input hash; the latest remote_updated_at of those that are)."""
        stored = self.stored_hashes([row.id for row in rows])
        differences, latest = {}, None
        for row in rows:
            before = stored.get(row.id)
            if before is None:
                differences[row.id] = (None, False, False)
            elif before[2] != row.input_hash or before[1]:
                differences[row.id] = (before[0], before[1], before[2] == row.input_hash)
            elif before[3] is not None and (latest is None or before[3] > latest):
                latest = before[3]
        return differences, latest

    def seen_statement(self, page: PreparedPage, *, connection_id, entity: str, marker: uuid.UUID, number: int,
                       now: datetime) -> tuple[str, list]:
        """One row for the page, whatever its size: the ids as a JSON list of 32 hex digits."""
        ids = orjson.dumps([row.id.hex for row in page.rows] + [rid.hex for rid in page.failed_ids]).decode()
        return (f"INSERT INTO syncs_seenpage (marker, page, connection_id, entity, ids, created_at) "
                f"VALUES (%s, %s, %s, %s, {self.JSON_PARAM}, %s)",
                [self.uuid_param(marker), number, self.uuid_param(connection_id), entity, ids,
                 db.ops.adapt_datetimefield_value(now)])

    def write_initial(self, page: PreparedPage, *, connection_id, entity: str, now: datetime,
                      marker: uuid.UUID) -> PageResult:
        # No savepoint: it would cost two round trips a page. The caller rolls the page's
        # transaction back on InitialLoadCollision and writes the page again, classified.
        try:
            with db.cursor() as cursor:
                position = self.change_position_take(cursor, connection_id=connection_id, entity=entity, now=now)
                self.insert(cursor, page.rows, connection_id=connection_id, entity=entity, position=position,
                            marker=marker, lines=page.preformatted)
            return PageResult(created=len(page.rows))
        except (IntegrityError, db.Database.IntegrityError) as exc:  # COPY raises the driver's own error
            raise InitialLoadCollision() from exc

    def tombstones_apply(self, ids: list[uuid.UUID], *, connection_id, entity: str, now: datetime,
                         position: ChangePosition | None) -> int:
        """Marks the page's tombstones deleted, in the page's transaction and at a position of the
        change feed like deletions_mark's; ids not stored, or already deleted, are ignored
        (docs/architecture.md, "Sync semantics"). Returns how many were marked."""
        live = Record.objects.filter(pk__in=ids, connection_id=connection_id, entity=entity, deleted_at__isnull=True)
        if position is None:
            if not live.exists():
                return 0  # no feed position is spent on tombstones of records never stored
            with db.cursor() as cursor:
                position = self.change_position_take(cursor, connection_id=connection_id, entity=entity, now=now)
        return live.update(deleted_at=position.at, modified_at=position.at, change_seq=position.seq)

    def classify(self, page: PreparedPage) -> tuple[list[Row], list[str], list[Row], list[uuid.UUID]]:
        """(new rows, their preformatted lines, changed rows, ids of unchanged rows)."""
        new, new_lines, changed, unchanged = [], [], [], []
        # Only the rows that differ come back: a page of unchanged records costs one query and
        # no rows to read (None: not stored; False: another hash; then whether it is deleted).
        differences = self.stored_differences(page.rows) if page.rows else {}
        # A record the upstream sends along with its tombstone (SAP's deletion code "L") and
        # already stored deleted is unchanged, not resurrected and deleted again on every read.
        tombstoned = set(page.deleted_ids)
        for i, row in enumerate(page.rows):
            difference = differences.get(row.id)
            if difference is None:
                unchanged.append(row.id)
                continue
            same_hash, deleted = difference
            if same_hash is None:
                new.append(row)
                if page.preformatted:
                    new_lines.append(page.preformatted[i])
            elif not same_hash or (deleted and row.id not in tombstoned):
                changed.append(row)
            else:
                unchanged.append(row.id)
        return new, new_lines, changed, unchanged

    def stored_differences(self, rows: list[Row]) -> dict[uuid.UUID, tuple[bool | None, bool]]:
        """{id: (same hash, or None if not stored; deleted)} for the rows not stored live and alike."""
        differences = {}
        stored = self.stored_hashes([row.id for row in rows])
        for row in rows:
            before = stored.get(row.id)
            if before is None:
                differences[row.id] = (None, False)
            elif before[0] != row.content_hash or before[1]:
                differences[row.id] = (before[0] == row.content_hash, before[1])
        return differences

    def change_position_take(self, cursor, *, connection_id, entity: str, now: datetime) -> ChangePosition:
        """The next number of the (connection, entity) change feed, and a time never earlier than
        the last one's. The UPDATE holds the SyncState row until this transaction commits, so a
        later number cannot commit first: a client past number n has seen everything up to n."""
        adapt, where = db.ops.adapt_datetimefield_value, [self.uuid_param(connection_id), entity]
        update = ("UPDATE syncs_syncstate SET change_seq = change_seq + 1, change_at = CASE WHEN change_at IS NULL "
                  "OR change_at < %s THEN %s ELSE change_at END WHERE connection_id = %s AND entity = %s")
        # RETURNING saves a round trip a page; SQLite before 3.35 lacks it, so there the numbers
        # are read back with a SELECT (the UPDATE's lock means it reads this transaction's own).
        if db.features.can_return_columns_from_insert:
            self.execute(cursor, update + " RETURNING change_seq, change_at", [adapt(now), adapt(now), *where])
        else:
            self.execute(cursor, update, [adapt(now), adapt(now), *where])
            cursor.execute("SELECT change_seq, change_at FROM syncs_syncstate WHERE connection_id = %s "
                           "AND entity = %s", where)
        row = cursor.fetchone()
        if row is None:
            raise LookupError(f"no SyncState for {connection_id}:{entity}; the engine creates it before writing")
        at = row[1] if isinstance(row[1], datetime) else parse_datetime(row[1])
        return ChangePosition(seq=row[0], at=at if at.tzinfo else at.replace(tzinfo=UTC))

    JSON_PARAM = "%s"

    def uuid_param(self, value: uuid.UUID):
        return value

    def transaction_statements(self) -> list[tuple[str, list]]:
        return []

    def preformat(self, page: PreparedPage, *, connection_id, entity: str) -> None:
        pass

    def lines(self, rows: list[Row], *, connection_id, entity: str) -> list[str] | None:
        return None


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _json_for_copy(text: str) -> str:
    # JSON text never holds a raw tab, newline or carriage return (they are escaped inside
    # strings), so the backslash is the one character COPY's text format needs doubled.
    return text.replace("\\", "\\\\")


class PostgresWriter(PageWriter):
    """New rows go straight into the table with COPY; changed rows through a staging table."""

    STAGE = "sync_stage_v2"
    JSON_PARAM = "%s::jsonb"
    COLUMNS = ("id, connection_id, entity, remote_id, data, raw, content_hash, input_hash, remote_updated_at, "
               "modified_at, last_seen_run, change_seq")

    def stored_differences(self, rows: list[Row]) -> dict[uuid.UUID, tuple[bool | None, bool]]:
        # PostgreSQL compares the hashes, so a page of unchanged records reads no row back. One
        # index lookup per id, whatever the statistics say (OFFSET 0 keeps the planner from a
        # hash join over the whole table, which it picks while the table is newly loaded). The
        # ids and hashes travel as two strings: cheaper to send than two arrays of 1000 values.
        with db.cursor() as cursor:
            self.execute(
                cursor,
                """SELECT p.id, s.same, s.deleted
                   FROM unnest(string_to_array(%s, ',')::uuid[], string_to_array(%s, ',')) AS p(id, h)
                   LEFT JOIN LATERAL (SELECT r.content_hash = p.h AS same, r.deleted_at IS NOT NULL AS deleted
                                      FROM syncs_record r WHERE r.id = p.id OFFSET 0) s ON true
                   WHERE s.same IS NOT TRUE OR s.deleted""",
                [",".join([row.id.hex for row in rows]), ",".join([row.content_hash for row in rows])])
            return {rid: (same, bool(deleted)) for rid, same, deleted in cursor.fetchall()}

    def stored_inputs(self, rows: list[Row]) -> tuple[dict[uuid.UUID, tuple[str | None, bool, bool]],
                                                      datetime | None]:
        # As stored_differences: a page of unchanged records reads back one row, the latest
        # remote_updated_at of the rows whose input hash matched (id NULL).
        with db.cursor() as cursor:
            self.execute(
                cursor,
                """WITH p AS (SELECT p.id, p.h, s.input_hash, s.content_hash, s.deleted, s.remote_updated_at
                              FROM unnest(string_to_array(%s, ',')::uuid[], string_to_array(%s, ',')) AS p(id, h)
                              LEFT JOIN LATERAL (SELECT r.input_hash, r.content_hash, r.remote_updated_at,
                                                        r.deleted_at IS NOT NULL AS deleted
                                                 FROM syncs_record r WHERE r.id = p.id OFFSET 0) s ON true)
                   SELECT id, content_hash, deleted, input_hash = h, NULL FROM p
                   WHERE content_hash IS NULL OR input_hash <> h OR deleted
                   UNION ALL
                   SELECT NULL, NULL, NULL, NULL, max(remote_updated_at) FROM p WHERE input_hash = h AND NOT deleted""",
                [",".join([row.id.hex for row in rows]), ",".join([row.input_hash for row in rows])])
            differences, latest = {}, None
            for rid, content_hash, deleted, same_input, updated in cursor.fetchall():
                if rid is None:
                    latest = updated
                else:
                    differences[rid] = (content_hash, bool(deleted), bool(same_input))
            return differences, latest

    def inputs_update(self, rows: list[Row]) -> None:
        # Nothing waits on it: it goes with the page's next statement.
        self.pending.append(
            ("UPDATE syncs_record r SET input_hash = p.h FROM unnest(string_to_array(%s, ',')::uuid[], "
             "string_to_array(%s, ',')) AS p(id, h) WHERE r.id = p.id",
             [",".join([row.id.hex for row in rows]), ",".join([row.input_hash for row in rows])]))

    def transaction_statements(self) -> list[tuple[str, list]]:
        # Pages commit without waiting for the WAL flush. A database crash can then lose the last
        # pages, but each page and its checkpoint commit together, so the run resumes before them.
        # The run's final transaction commits normally and flushes everything before it.
        return [("SET LOCAL synchronous_commit = off", [])]

    def execute(self, cursor, sql: str | None, params: list | None = None) -> None:
        """One round trip for the pending statements and `sql`: the connection binds parameters on
        the client (Django's default), which lets one call carry several statements."""
        statements = [*self.pending, *([(sql, params or [])] if sql else [])]
        self.pending = []
        cursor.execute("; ".join(statement for statement, _ in statements),
                       [value for _, values in statements for value in values])
        while cursor.nextset():
            pass  # on to the last statement's result

    def preformat(self, page: PreparedPage, *, connection_id, entity: str) -> None:
        """COPY text lines up to the modified_at column, built on the reader thread, so the
        writing thread hands PostgreSQL one string per page instead of formatting row by row.
        Only for a page written without classifying (an initial load's): in any other, most
        rows may be unchanged, and the new ones get their lines when written."""
        if self.assume_new and page.validated:
            page.preformatted = self.lines(page.rows, connection_id=connection_id, entity=entity)

    def lines(self, rows: list[Row], *, connection_id, entity: str) -> list[str]:
        head = f"\t{connection_id}\t{entity}\t"
        return [f"{r.id}{head}{r.remote_id.translate(_COPY_ESCAPES)}\t{_json_for_copy(r.data)}\t"
                f"{_json_for_copy(r.raw)}\t{r.content_hash}\t{r.input_hash}\t{r.remote_updated_at.isoformat()}\t"
                for r in rows]

    def insert(self, cursor, rows, *, connection_id, entity, position: ChangePosition, marker, lines=None) -> None:
        with cursor.cursor.copy(f"COPY syncs_record ({self.COLUMNS}) FROM STDIN") as copy:
            if lines is not None:
                tail = f"{position.at.isoformat()}\t{marker}\t{position.seq}\n"
                copy.write(tail.join(lines) + tail)
                return
            for r in rows:
                copy.write_row((r.id, connection_id, entity, r.remote_id, r.data, r.raw, r.content_hash,
                                r.input_hash, r.remote_updated_at, position.at, marker, position.seq))

    def update(self, cursor, rows, *, position: ChangePosition, marker) -> None:
        # (a new name: a session's temp table of an older shape would lack input_hash)
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {self.STAGE} (id uuid, data jsonb, raw jsonb, "
                       "content_hash text, input_hash text, remote_updated_at timestamptz) ON COMMIT DELETE ROWS")
        columns = "id, data, raw, content_hash, input_hash, remote_updated_at"
        with cursor.cursor.copy(f"COPY {self.STAGE} ({columns}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r.id, r.data, r.raw, r.content_hash, r.input_hash, r.remote_updated_at))
        cursor.execute(
            f"""UPDATE syncs_record r SET data = s.data, raw = s.raw, content_hash = s.content_hash,
                    input_hash = s.input_hash, remote_updated_at = s.remote_updated_at, modified_at = %s,
                    change_seq = %s, last_seen_run = %s,
                    deleted_at = NULL
                FROM {self.STAGE} s WHERE r.id = s.id""", [position.at, position.seq, marker])
        # ON COMMIT empties it too, but the caller's transaction may span several pages.
        cursor.execute(f"TRUNCATE {self.STAGE}")


class SqliteWriter(PageWriter):
    """The embedded default: the same three statements as executemany and IN lists."""

    def stored_hashes(self, ids: list[uuid.UUID]) -> dict:
        with db.cursor() as cursor:
            cursor.execute(f"SELECT id, content_hash, deleted_at IS NOT NULL, input_hash, remote_updated_at "
                           f"FROM syncs_record WHERE id IN ({','.join(['%s'] * len(ids))})", [i.hex for i in ids])
            return {uuid.UUID(rid): (content_hash, deleted, input_hash, _stored_time(updated))
                    for rid, content_hash, deleted, input_hash, updated in cursor.fetchall()}

    def inputs_update(self, rows: list[Row]) -> None:
        with db.cursor() as cursor:
            self.execute(cursor, None)
            cursor.executemany("UPDATE syncs_record SET input_hash = %s WHERE id = %s",
                               [(r.input_hash, r.id.hex) for r in rows])

    def uuid_param(self, value: uuid.UUID):
        return value.hex

    def insert(self, cursor, rows, *, connection_id, entity, position: ChangePosition, marker, lines=None) -> None:
        adapt, at = db.ops.adapt_datetimefield_value, db.ops.adapt_datetimefield_value(position.at)
        cursor.executemany(
            """INSERT INTO syncs_record (id, connection_id, entity, remote_id, data, raw, content_hash, input_hash,
                   remote_updated_at, modified_at, last_seen_run, change_seq)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [(r.id.hex, connection_id.hex, entity, r.remote_id, r.data, r.raw, r.content_hash, r.input_hash,
              adapt(r.remote_updated_at), at, marker.hex, position.seq) for r in rows])

    def update(self, cursor, rows, *, position: ChangePosition, marker) -> None:
        adapt, at = db.ops.adapt_datetimefield_value, db.ops.adapt_datetimefield_value(position.at)
        cursor.executemany(
            """UPDATE syncs_record SET data = %s, raw = %s, content_hash = %s, input_hash = %s, remote_updated_at = %s,
                   modified_at = %s, change_seq = %s, last_seen_run = %s, deleted_at = NULL WHERE id = %s""",
            [(r.data, r.raw, r.content_hash, r.input_hash, adapt(r.remote_updated_at), at, position.seq, marker.hex,
              r.id.hex) for r in rows])


def _stored_time(value) -> datetime | None:
    # SQLite hands back the stored text (UTC, without an offset).
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def writer_for_database():
    return PostgresWriter() if db.vendor == "postgresql" else SqliteWriter()


def deletions_mark(*, connection_id, entity: str, window_start: datetime | None, marker: uuid.UUID, fetched: int,
                   now: datetime, seen_pages: int | None) -> dict:
    """After a successful full re-sync: records of the window on none of this run's seen pages
    are deleted, at one position of the change feed, like any other change.

    Guarded: a run that saw nothing, or would delete more than SYNC_DELETION_GUARD_FRACTION of
    the window, deletes nothing and says why, because an upstream returning an empty or partial
    list by mistake must not wipe the copy. So does a run whose stored seen pages do not match
    the `seen_pages` its checkpoint counted (None: not counted), since a seen record would look
    missing.
    """
    incomplete = seen_pages_incomplete(marker=marker, expected=seen_pages)
    if incomplete:
        return {"deleted": 0, "deletion_skipped": incomplete}
    in_window = Record.objects.filter(connection_id=connection_id, entity=entity, deleted_at__isnull=True)
    if window_start is not None:  # None: the run read every record, whatever its date
        in_window = in_window.filter(remote_updated_at__gte=window_start)
    missing = in_window.filter(unseen_condition(marker=marker))
    to_delete = missing.count()
    if not to_delete:
        return {"deleted": 0}
    total = in_window.count()
    if fetched == 0 or to_delete > settings.SYNC_DELETION_GUARD_FRACTION * total:
        return {"deleted": 0, "deletion_skipped": f"{to_delete} of {total} records in the window were not seen; "
                "more than the guard allows, so none were marked deleted"}
    with db.cursor() as cursor:
        position = writer_for_database().change_position_take(cursor, connection_id=connection_id, entity=entity,
                                                              now=now)
    return {"deleted": missing.update(deleted_at=position.at, modified_at=position.at, change_seq=position.seq)}
