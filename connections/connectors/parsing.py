"""Parsing helpers for upstream values (docs/architecture.md, "The upstream toolkit").

Each turns one upstream value into what the unified records hold: aware datetimes (written out
with `iso_out`), decimals as decimal strings (never through float, which would change amounts),
and Tryton's JSON-RPC `{"__class__": ...}` objects into Python values. A value that cannot be
read raises MappingError, so the engine counts the record as failed and goes on; empty values
("" and None) give None.
"""

import base64
import re
from datetime import UTC, date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connections.connectors.base import MappingError

# OData V2 JSON dates: milliseconds since the epoch (UTC), then for Edm.DateTimeOffset an offset
# in minutes, e.g. /Date(1492098664000+0060)/ (OData V2 JSON format, "Primitive types").
_ODATA_DATE = re.compile(r"^/Date\((-?\d+)(?:([+-])(\d{1,4}))?\)/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def odata_date(value) -> datetime | None:
    """"/Date(1492098664000+0000)/" or "/Date(1492098664000)/" -> an aware datetime (the instant is
    the milliseconds, in UTC; a non-zero offset sets the returned datetime's offset)."""
    if _empty(value):
        return None
    if isinstance(value, datetime):
        return _aware(value, "UTC")
    match = _ODATA_DATE.match(str(value).strip().replace("\\/", "/"))
    if not match:
        raise MappingError(f"not an OData date: {str(value)[:50]!r}")
    milliseconds, sign, minutes = match.groups()
    try:
        instant = _EPOCH + timedelta(milliseconds=int(milliseconds))
    except OverflowError:
        raise MappingError(f"OData date out of range: {value!r}") from None
    if minutes and int(minutes):
        offset = timedelta(minutes=int(minutes)) * (-1 if sign == "-" else 1)
        try:
            return instant.astimezone(dt_timezone(offset))
        except (OverflowError, ValueError):
            return instant  # at the edge of the calendar: the same instant, kept in UTC
    return instant


def _zone(name: str):
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"unknown time zone {name!r}") from None


def _aware(value: datetime, timezone: str) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=_zone(timezone))


def iso_datetime(value, *, timezone: str = "UTC") -> datetime | None:
    """ISO 8601 with or without offset ("Z" too); a naive value is read in the IANA zone
    `timezone` (the connection's config), so the result is always aware."""
    if _empty(value):
        return None
    if isinstance(value, datetime):
        return _aware(value, timezone)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=_zone(timezone))
    if not isinstance(value, str):
        raise MappingError(f"not an ISO 8601 datetime: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MappingError(f"not an ISO 8601 datetime: {value[:50]!r}") from None
    return _aware(parsed, timezone)


def decimal_string(value, *, trim: bool = False) -> str | None:
    """A Decimal, int or numeric string as a plain decimal string ("12.50", "-3", never an
    exponent; the scale is kept, or with `trim` the zeros after the point dropped: "3.10" -> "3.1",
    "99.00" -> "99"). Floats are refused: they have already lost the exact amount."""
    if _empty(value):
        return None
    if isinstance(value, bool) or isinstance(value, float):
        raise MappingError(f"a {type(value).__name__} is not accepted as a decimal: {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, (int, str)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise MappingError(f"not a decimal: {str(value)[:50]!r}") from None
    else:
        raise MappingError(f"not a decimal: {value!r}")
    if not number.is_finite():
        raise MappingError(f"not a finite decimal: {value!r}")
    text = format(number, "f")
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def decimal_number(value) -> Decimal | None:
    """What decimal_string reads, as a Decimal to compute with (same refusals, empty is None)."""
    text = decimal_string(value)
    return None if text is None else Decimal(text)


def decimal_sum(values) -> Decimal | None:
    """The exact sum of decimal values (as decimal_number reads them), empty ones left out; None
    when none is set."""
    numbers = [number for number in map(decimal_number, values) if number is not None]
    return sum(numbers, Decimal(0)) if numbers else None


def _tryton_object(value: dict):
    kind = value["__class__"]
    try:
        if kind == "datetime":
            naive = datetime(value["year"], value["month"], value["day"], value.get("hour", 0),
                             value.get("minute", 0), value.get("second", 0), value.get("microsecond", 0))
            return naive.replace(tzinfo=UTC)  # Tryton stores and sends datetimes in UTC
        if kind == "date":
            return date(value["year"], value["month"], value["day"])
        if kind == "time":
            return time(value.get("hour", 0), value.get("minute", 0), value.get("second", 0),
                        value.get("microsecond", 0))
        if kind == "timedelta":
            return timedelta(seconds=float(value["seconds"]))
        if kind == "Decimal":
            return decimal_string(str(value["decimal"]))
        if kind == "bytes":
            return base64.b64decode(value["base64"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MappingError(f"unreadable Tryton {kind} value: {exc}") from None
    raise MappingError(f"unknown Tryton value class {kind!r}")


def tryton_value(value):
    """Tryton JSON-RPC values -> Python: datetime (UTC, made aware), date, time, timedelta, bytes,
    Decimal as a decimal string; lists and plain dicts are converted throughout."""
    if isinstance(value, dict):
        if "__class__" in value:
            return _tryton_object(value)
        return {key: tryton_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [tryton_value(item) for item in value]
    return value


def tryton_out(value):
    """A Python value as Tryton's JSON-RPC reads it (the inverse of tryton_value): an aware datetime
    as a naive UTC datetime object, a date and a Decimal as their objects; anything else unchanged."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise MappingError(f"not an aware datetime: {value!r}")
        value = value.astimezone(UTC)
        return {"__class__": "datetime", "year": value.year, "month": value.month, "day": value.day,
                "hour": value.hour, "minute": value.minute, "second": value.second,
                "microsecond": value.microsecond}
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    return value


def date_out(value) -> str | None:
    """A date as YYYY-MM-DD, as unified records hold dates; an aware datetime gives its date in UTC
    (OData V2 sends a date as midnight UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise MappingError(f"not an aware datetime: {value!r}")
        return value.astimezone(UTC).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise MappingError(f"not a date: {value!r}")


def iso_out(dt) -> str | None:
    """An aware datetime as ISO 8601 with its offset, as unified records hold it."""
    if dt is None:
        return None
    if not isinstance(dt, datetime) or dt.tzinfo is None or dt.utcoffset() is None:
        raise MappingError(f"not an aware datetime: {dt!r}")
    return dt.isoformat()
