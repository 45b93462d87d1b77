"""The record browser: one connection's records of one entity, searched, filtered and keyset-paged,
and one record with the run that last changed it (docs/architecture.md, "The record browser")."""

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection as db
from django.db.models import Q, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Collate
from django.http import Http404
from django.shortcuts import get_object_or_404

from connections.connectors.entities import ENTITIES
from connections.models import Connection
from dashboard.selectors.common import MAX_CURSOR, PAGE_SIZE, KeysetPage, parse_id
from syncs.models import Record, SyncRun

# The deleted filter: its values and how the form names them.
DELETED_CHOICES = (("", "Live and deleted"), ("live", "Only live"), ("deleted", "Only deleted"))
# What a list row shows: never `raw`, and of `data` only the number and a name (NAME_KEYS).
LIST_FIELDS = ("id", "connection_id", "entity", "remote_id", "modified_at", "deleted_at", "change_seq")
# The unified schema's human identifier: every entity has `number` (a PO or work order number, an
# asset tag, an item code...). The migration syncs/0013 indexes it per (connection, entity).
NUMBER = KeyTextTransform("number", "data")
NAME_KEYS = ("name", "title", "description")


@dataclass(frozen=True)
class RecordFilters:
    q: str = ""
    deleted: str = ""
    since: datetime | None = None

    @property
    def active(self) -> bool:
        return any((self.q, self.deleted, self.since))


def record_connection_get(*, connection_id) -> Connection:
    return get_object_or_404(Connection.objects.select_related("customer").defer("credentials", "config", "metadata"),
                             pk=connection_id)


def record_entity_check(*, connection: Connection, entity: str) -> None:
    """404 for an entity that is not one of the six, or that the connection neither syncs nor holds."""
    if entity not in ENTITIES:
        raise Http404("No such entity.")
    if entity not in (connection.entities or []) and not Record.objects.filter(
            connection=connection, entity=entity).exists():
        raise Http404("This connection has no such entity.")


def record_list(*, connection: Connection, entity: str, filters: RecordFilters, cursor: str | None) -> KeysetPage:
    """Without a search, newest change first (_feed_page); with one, by number (_search_page)."""
    records = Record.objects.filter(connection=connection, entity=entity)
    if filters.deleted:
        records = records.filter(deleted_at__isnull=filters.deleted == "live")
    if filters.since:
        floor = _seq_floor(connection=connection, entity=entity, since=filters.since)
        if floor is None:
            return KeysetPage(rows=[], next_cursor=None, is_first=not cursor)
        records = records.filter(change_seq__gte=floor, modified_at__gte=filters.since)
    records = _list_columns(records)
    if filters.q:
        return _search_page(records, q=filters.q, cursor=cursor)
    return _feed_page(records, cursor=cursor)


def _list_columns(records: QuerySet) -> QuerySet:
    return records.only(*LIST_FIELDS).annotate(
        number=NUMBER, **{f"data_{key}": KeyTextTransform(key, "data") for key in NAME_KEYS})


def _seq_floor(*, connection: Connection, entity: str, since: datetime) -> int | None:
    """The first feed position changed at or after `since`, found by bisecting the feed's index
    (modified_at rises with change_seq): a dozen or so index probes, where a filter on modified_at
    alone reads every older record when fewer than a page's worth are newer. None: nothing is."""
    with db.cursor() as cursor:
        probe = _feed_probe(cursor, connection=connection, entity=entity)
        low, high = probe(0, ascending=True), probe(None, ascending=False)
        if high is None or high[1] < since:
            return None
        if low[1] >= since:
            return low[0]
        # Bisect the positions: probe(lo) changed before since, probe(hi) at or after it.
        lo, (hi, found) = low[0], (high[0], high[0])
        while hi - lo > 1:
            mid = (lo + hi) // 2
            seq, moment = probe(mid, ascending=True)
            if moment >= since:
                hi, found = mid, seq
            else:
                lo = seq
        return found


def _feed_probe(cursor, *, connection: Connection, entity: str):
    """probe(seq) -> (change_seq, modified_at) of the first record at or after position seq (or of
    the last one). Plain SQL on one cursor: through the ORM, the dozen probes of a bisection took
    8-12 ms at a million records on PostgreSQL, most of it building queries; as SQL, about 3 ms."""
    table, field = Record._meta.db_table, Record._meta.get_field("connection")
    where = f"SELECT change_seq, modified_at FROM {table} WHERE connection_id = %s AND entity = %s"
    key = [field.get_db_prep_value(connection.pk, db), entity]

    def probe(seq: int | None, *, ascending: bool) -> tuple[int, datetime] | None:
        if ascending:
            cursor.execute(f"{where} AND change_seq >= %s ORDER BY change_seq LIMIT 1", [*key, seq])
        else:
            cursor.execute(f"{where} ORDER BY change_seq DESC LIMIT 1", key)
        row = cursor.fetchone()
        if row is None:
            return None
        moment = row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(row[1])
        return row[0], moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite's are naive UTC

    return probe


def _feed_page(records: QuerySet, *, cursor: str | None) -> KeysetPage:
    """Newest change first, in change-feed order (change_seq, id), which is modified_at order:
    modified_at never goes backwards along the feed (docs/api.md#the-change-feed). Paging on the
    feed's index spares the busiest table of all a fourth index on modified_at."""
    position = cursor_decode(cursor)
    seq = parse_id(position[0]) if position else None
    if seq is not None:
        records = records.filter(change_seq__lte=seq).filter(Q(change_seq__lt=seq) | Q(pk__lt=position[1]))
    rows = list(records.order_by("-change_seq", "-pk")[:PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = _labelled(rows[:PAGE_SIZE])
    next_cursor = cursor_encode(key=str(rows[-1].change_seq), pk=rows[-1].pk) if more else None
    return KeysetPage(rows=rows, next_cursor=next_cursor, is_first=seq is None)


def _search_page(records: QuerySet, *, q: str, cursor: str | None) -> KeysetPage:
    """The record whose remote id is q (first page only), then the records whose number starts with
    q, highest number first. Number order, not change order: the number index then reads about a
    page's worth whatever the search matches, where the feed's order reads every record changed
    after the matches (a prefix matching a thousand records of last year: half a million rows).
    Highest first because numbers mostly rise with time: "changed since" then stops early too."""
    position = cursor_decode(cursor)
    numbered = records.annotate(number_key=_number_key()).exclude(remote_id=q).filter(number_key__gte=q)
    upper = _prefix_end(q)
    numbered = numbered.filter(number_key__lt=upper) if upper else numbered.filter(number__startswith=q)
    if position is not None:
        number, pk = position
        numbered = numbered.filter(number_key__lte=number).filter(Q(number_key__lt=number) | Q(pk__lt=pk))
    rows = list(numbered.order_by("-number_key", "-pk")[:PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = cursor_encode(key=rows[-1].number_key, pk=rows[-1].pk) if more else None
    if position is None:
        rows = list(records.filter(remote_id=q)) + rows  # the unique (connection, entity, remote_id) index
    return KeysetPage(rows=_labelled(rows), next_cursor=next_cursor, is_first=position is None)


def _number_key():
    """The number as syncs/0013's index holds it, compared byte by byte, so that "starts with q" is
    the index range [q, _prefix_end(q)). SQLite matches an expression index only against the same
    literal JSON path, and Django passes the path as a parameter: there, the expression is spelt out.
    Its json_extract also reads a JSON null as NULL, where Django's reads it as the text "null"."""
    if db.vendor == "sqlite":
        return RawSQL(f"json_extract({Record._meta.db_table}.data, '$.number')", (), output_field=TextField())
    return Collate(NUMBER, "C")


def _prefix_end(q: str) -> str | None:
    """The least string above every string that starts with q; None past the last code point."""
    following = ord(q[-1]) + 1
    if following > 0x10FFFF or 0xD800 <= following <= 0xDFFF:
        return None
    return q[:-1] + chr(following)


def _labelled(rows: list) -> list:
    for row in rows:
        row.label = next((getattr(row, f"data_{key}") for key in NAME_KEYS if getattr(row, f"data_{key}")), "")
    return rows


def cursor_encode(*, key: str, pk: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{key}|{pk}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    """The (key, id) a cursor stands for (a feed position or a number); None for a missing or
    tampered one (the first page)."""
    if not cursor or len(cursor) > MAX_CURSOR:
        return None
    try:
        key, pk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().rsplit("|", 1)
        pk = uuid.UUID(pk)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        return None
    return None if "\x00" in key else (key, pk)  # PostgreSQL text cannot hold a NUL


def record_get(*, connection: Connection, entity: str, record_id: uuid.UUID) -> Record:
    return get_object_or_404(Record, connection=connection, entity=entity, pk=record_id)


def record_changed_by(*, record: Record) -> SyncRun | None:
    """The run whose window (started .. finished, or still running) holds the record's last change.
    Runs of one (connection, entity) never overlap, so it is the last one queued before the change:
    one probe of the runs' (connection, entity, queued_at) index. None when retention pruned it or
    the change came from elsewhere. Not last_seen_run: that is the last run that read it, changed or not."""
    run = (SyncRun.objects.filter(connection_id=record.connection_id, entity=record.entity,
                                  queued_at__lte=record.modified_at)
           .only("id", "status", "mode", "trigger", "queued_at", "started_at", "finished_at")
           .order_by("-queued_at").first())
    if run is None or run.started_at is None or run.started_at > record.modified_at:
        return None
    if run.finished_at is not None and run.finished_at < record.modified_at:
        return None
    return run


def record_fields(*, data: dict) -> list[tuple[str, object, bool]]:
    """The unified record as (label, value, is_structured) rows, in schema order: scalars read as
    text, objects and lists as indented JSON."""
    return [(key.replace("_", " "), value, isinstance(value, dict | list)) for key, value in data.items()]
