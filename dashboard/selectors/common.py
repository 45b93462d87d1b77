"""Keyset pagination: large tables (runs, audit events, deliveries) are paged by (time, id),
never by OFFSET or a COUNT(*) over millions of rows."""

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q, QuerySet

PAGE_SIZE = 50
# ASCII digits that fit a bigint: str.isdigit() and int() also take "²", "①" and "١٢٣".
ID_PATTERN = re.compile(r"\A[0-9]{1,18}\Z")
MAX_CURSOR = 200


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_cursor: str | None  # None on the last page
    is_first: bool


def keyset_encode(*, moment: datetime, pk) -> str:
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{pk}".encode()).decode().rstrip("=")


def keyset_decode(cursor: str | None, *, pk_type=int) -> tuple[datetime, object] | None:
    """The (time, pk) a cursor stands for; None for a missing or tampered cursor (the first page)."""
    if not cursor or len(cursor) > MAX_CURSOR:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, pk = raw.split("|", 1)
        moment = aware_utc(datetime.fromisoformat(moment))
        pk = parse_id(pk) if pk_type is int else pk_type(pk)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        return None
    return (moment, pk) if moment is not None and pk is not None else None


def keyset_page(queryset: QuerySet, *, time_field: str, cursor: str | None, limit: int = PAGE_SIZE,
                pk_type=int) -> KeysetPage:
    """Newest first. `time <= t` is the index range; the id breaks ties between equal times."""
    position = keyset_decode(cursor, pk_type=pk_type)
    if position is not None:
        moment, pk = position
        queryset = queryset.filter(**{f"{time_field}__lte": moment}).filter(
            Q(**{f"{time_field}__lt": moment}) | Q(pk__lt=pk))
    rows = list(queryset.order_by(f"-{time_field}", "-pk")[:limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = keyset_encode(moment=getattr(last, time_field), pk=last.pk)
    return KeysetPage(rows=rows, next_cursor=next_cursor, is_first=position is None)


def parse_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def parse_id(value: str | None) -> int | None:
    return int(value) if value and ID_PATTERN.match(value) else None


def aware_utc(moment: datetime) -> datetime | None:
    """In UTC, or None when naive or out of range there ("0001-01-01T00:00+14:00" is year 0)."""
    if moment.tzinfo is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None
