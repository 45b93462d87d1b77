"""Keyset pagination: large tables (runs, audit events, deliveries) are paged by (time, id),
never by OFFSET or a COUNT(*) over millions of rows."""

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

PAGE_SIZE = 50


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_cursor: str | None  # None on the last page
    is_first: bool


def keyset_encode(*, moment: datetime, pk) -> str:
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{pk}".encode()).decode().rstrip("=")


def keyset_decode(cursor: str | None, *, pk_type=int) -> tuple[datetime, object] | None:
    """The (time, pk) a cursor stands for; None for a missing or tampered cursor (the first page)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, pk = raw.split("|", 1)
        return datetime.fromisoformat(moment), pk_type(pk)
    except (ValueError, UnicodeDecodeError):
        return None


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
