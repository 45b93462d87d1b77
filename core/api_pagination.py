"""Keyset pagination for API v1 lists: opaque cursors, never OFFSET.

A cursor is base64url JSON naming the list it belongs to and the sort key of the last item
returned; the next page is "rows strictly after that key in the list's order", so inserts,
updates and deletes between pages never shift a page boundary the way an offset would.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import connection as db_connection
from django.db.models import QuerySet

from core.api_types import MAX_BIGINT
from core.errors import CatalogError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


def cursor_encode(*, kind: str, values: list[Any]) -> str:
    raw = orjson.dumps({"k": kind, "v": [v.isoformat() if hasattr(v, "isoformat") else str(v) for v in values]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid(reason: str) -> CatalogError:
    return CatalogError("VALIDATION_FAILED", "The cursor is not valid for this list.",
                        details={"fields": {"cursor": reason}})


def cursor_decode(cursor: str, *, kind: str, arity: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise _invalid("not a cursor returned by this API") from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("v"), list) or len(decoded["v"]) != arity:
        raise _invalid("not a cursor returned by this API")
    if decoded.get("k") != kind:
        raise _invalid("this cursor belongs to another list")
    return decoded["v"]


def _key_values(model, names: tuple[str, str], raw: tuple) -> tuple:
    """The cursor's values as the fields' Python types; anything odd is an invalid cursor."""
    values = []
    for name, value in zip(names, raw, strict=True):
        try:
            value = model._meta.get_field(name).to_python(value)
            if isinstance(value, datetime):
                value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        except Exception:  # any malformed value is the client's cursor being wrong
            raise _invalid("not a cursor returned by this API") from None
        if value is None or (isinstance(value, int) and not 0 <= value <= MAX_BIGINT):
            raise _invalid("not a cursor returned by this API")
        values.append(value)
    return tuple(values)


def _strictly_after(queryset: QuerySet, fields: tuple[str, str], values: tuple, *, descending: bool) -> QuerySet:
    """Rows after (first, second) in the list's order, as one row-value comparison.

    `(modified_at, id) > (%s, %s)` is an index condition on PostgreSQL (and SQLite 3.15+), so a
    deep page starts exactly at the cursor instead of filtering the rows tied on the time.
    """
    model, ops = queryset.model, db_connection.ops
    table = ops.quote_name(model._meta.db_table)
    columns, params = [], []
    for name, value in zip(fields, values, strict=True):
        field = model._meta.get_field(name)
        columns.append(f"{table}.{ops.quote_name(field.column)}")
        params.append(field.get_db_prep_value(value, db_connection))
    comparison = "<" if descending else ">"
    return queryset.extra(where=[f"({columns[0]}, {columns[1]}) {comparison} (%s, %s)"], params=params)


@dataclass
class Page:
    items: list
    next_cursor: str | None
    last_cursor: str | None = None  # the position of the last item, even on the last page


def keyset_page(queryset: QuerySet, *, kind: str, fields: tuple[str, str], descending: bool, cursor: str | None,
                page_size: int, values=None) -> Page:
    """One page of `queryset` ordered by the two `fields` (a time, then a unique id).

    With `values` (field names) the rows are values_list tuples in that order, which skips
    building model instances; the sort fields are fetched too, after them, if not listed.
    """
    first, second = fields
    model = queryset.model
    if cursor:
        raw_first, raw_second = cursor_decode(cursor, kind=kind, arity=2)
        key_first, key_second = _key_values(model, (first, second), (raw_first, raw_second))
        queryset = queryset.filter(**{f"{first}__{'lte' if descending else 'gte'}": key_first})
        queryset = _strictly_after(queryset, fields, (key_first, key_second), descending=descending)
    order = (f"-{first}", f"-{second}") if descending else (first, second)
    queryset = queryset.order_by(*order)
    if values:
        names = list(values)
        extra = [name for name in fields if name not in names]
        rows = list(queryset.values_list(*names, *extra)[:page_size + 1])
        index = {name: position for position, name in enumerate([*names, *extra])}

        def key_of(row):
            return [row[index[first]], row[index[second]]]
    else:
        rows = list(queryset[:page_size + 1])

        def key_of(row):
            return [getattr(row, first), getattr(row, second)]
    more = len(rows) > page_size
    rows = rows[:page_size]
    last_cursor = cursor_encode(kind=kind, values=key_of(rows[-1])) if rows else None
    return Page(items=rows, next_cursor=last_cursor if more else None, last_cursor=last_cursor)
