"""Input types shared by the API v1 routers: values the database can always store and compare."""

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

MAX_BIGINT = 2 ** 63 - 1


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value):
    """Only ISO 8601 text (pydantic alone would also read numbers as Unix times)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("an ISO 8601 date-time is expected, e.g. 2024-05-01T12:00:00Z")
    return value


def _utc(moment: datetime) -> datetime:
    """Aware and in UTC (naive means UTC); a time that cannot be expressed in UTC is refused."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


# A database id (BigAutoField): positive and within 64 bits.
Id = Annotated[int, Field(ge=1, le=MAX_BIGINT)]
# A timestamp, naive values read as UTC.
Timestamp = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_utc)]
