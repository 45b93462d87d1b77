"""Parsing helpers for upstream values (connections/connectors/parsing.py)."""

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from connections.connectors.base import MappingError
from connections.connectors.parsing import (
    date_out,
    decimal_number,
    decimal_string,
    decimal_sum,
    iso_datetime,
    iso_out,
    odata_date,
    tryton_out,
    tryton_value,
)


@pytest.mark.parametrize("value, expected", [
    ("/Date(1492098664000)/", datetime(2017, 4, 13, 15, 51, 4, tzinfo=UTC)),
    ("/Date(1492098664000+0000)/", datetime(2017, 4, 13, 15, 51, 4, tzinfo=UTC)),
    ("/Date(1492098664123)/", datetime(2017, 4, 13, 15, 51, 4, 123000, tzinfo=UTC)),
    ("/Date(-62135596800000)/", datetime(1, 1, 1, tzinfo=UTC)),
    ("/Date(0)/", datetime(1970, 1, 1, tzinfo=UTC)),
    ("", None), (None, None),
])
def test_it_reads_odata_dates(value, expected):
    assert odata_date(value) == expected


def test_it_reads_an_odata_offset_in_minutes_as_the_same_instant():
    parsed = odata_date("/Date(1492098664000+0060)/")
    assert parsed == datetime(2017, 4, 13, 15, 51, 4, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(minutes=60)
    assert odata_date("/Date(1492098664000-0330)/").utcoffset() == timedelta(minutes=-330)  # minutes, not hhmm


@pytest.mark.parametrize("value", ["2017-04-13", "/Date(abc)/", "Date(1)", "/Date(1492098664000+00:00)/"])
def test_it_refuses_what_is_not_an_odata_date(value):
    with pytest.raises(MappingError):
        odata_date(value)


@pytest.mark.parametrize("value, zone, expected", [
    ("2026-03-01T10:00:00Z", "UTC", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ("2026-03-01T10:00:00+02:00", "Europe/Berlin", datetime(2026, 3, 1, 8, tzinfo=UTC)),
    ("2026-03-01T10:00:00", "UTC", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ("2026-03-01T10:00:00", "Europe/Berlin", datetime(2026, 3, 1, 9, tzinfo=UTC)),  # CET
    ("2026-07-01T10:00:00.250", "America/Chicago", datetime(2026, 7, 1, 15, 0, 0, 250000, tzinfo=UTC)),  # CDT
    ("2026-07-01", "Europe/Berlin", datetime(2026, 6, 30, 22, tzinfo=UTC)),
    ("", "UTC", None), (None, "UTC", None),
])
def test_it_reads_iso_datetimes_in_the_connections_zone(value, zone, expected):
    parsed = iso_datetime(value, timezone=zone)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None


def test_it_refuses_a_bad_datetime_or_zone():
    with pytest.raises(MappingError):
        iso_datetime("yesterday")
    with pytest.raises(MappingError):
        iso_datetime("2026-03-01T10:00:00", timezone="Mars/Olympus")


@pytest.mark.parametrize("value, expected", [
    (Decimal("12.50"), "12.50"), ("12.50", "12.50"), (" 7 ", "7"), (3, "3"), ("-0.001", "-0.001"),
    (Decimal("1E+2"), "100"), ("+4.2", "4.2"), (Decimal("-0"), "0"), ("", None), (None, None),
])
def test_it_keeps_decimals_as_decimal_strings(value, expected):
    assert decimal_string(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("3.10", "3.1"), (Decimal("99.00"), "99"), (Decimal("4.350000"), "4.35"), ("208.5", "208.5"), ("12", "12"),
    (Decimal("1E+2"), "100"), ("0.000", "0"), ("-0.0", "0"), ("1200", "1200"), (None, None),
])
def test_it_trims_zeros_after_the_point_when_asked(value, expected):
    assert decimal_string(value, trim=True) == expected


@pytest.mark.parametrize("value", [1.5, True, "abc", "NaN", "Infinity", [1]])
def test_it_refuses_floats_and_non_numbers_as_decimals(value):
    with pytest.raises(MappingError):
        decimal_string(value)
    with pytest.raises(MappingError):
        decimal_number(value)


def test_it_reads_and_sums_decimals_exactly():
    assert decimal_number("12.50") == Decimal("12.50") and str(decimal_number("12.50")) == "12.50"
    assert decimal_number(" ") is None and decimal_number(None) is None
    assert decimal_sum(["0.10", Decimal("0.20"), None, "", 3]) == Decimal("3.30")
    assert decimal_sum([]) is None and decimal_sum([None, ""]) is None
    with pytest.raises(MappingError):
        decimal_sum(["1", 0.1])


def test_it_converts_tryton_values():
    raw = {
        "write_date": {"__class__": "datetime", "year": 2026, "month": 5, "day": 4, "hour": 3, "minute": 2,
                       "second": 1, "microsecond": 5},
        "purchase_date": {"__class__": "date", "year": 2026, "month": 5, "day": 1},
        "total_amount": {"__class__": "Decimal", "decimal": "1234.50"},
        "at": {"__class__": "time", "hour": 8, "minute": 30, "second": 0, "microsecond": 0},
        "lead": {"__class__": "timedelta", "seconds": Decimal("86400.0")},
        "blob": {"__class__": "bytes", "base64": "aGk=\n"},
        "lines": [{"quantity": {"__class__": "Decimal", "decimal": "2"}}],
        "state": "confirmed", "write_uid": None,
    }
    assert tryton_value(raw) == {
        "write_date": datetime(2026, 5, 4, 3, 2, 1, 5, tzinfo=UTC), "purchase_date": date(2026, 5, 1),
        "total_amount": "1234.50", "at": time(8, 30), "lead": timedelta(days=1), "blob": b"hi",
        "lines": [{"quantity": "2"}], "state": "confirmed", "write_uid": None,
    }


@pytest.mark.parametrize("value", [{"__class__": "frobnicate"}, {"__class__": "date", "year": 2026}])
def test_it_refuses_unknown_tryton_values(value):
    with pytest.raises(MappingError):
        tryton_value(value)


def test_it_writes_aware_datetimes_with_their_offset():
    assert iso_out(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05+00:00"
    assert iso_out(datetime(2026, 1, 2, 3, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-02T03:00:00+02:00"
    assert iso_out(None) is None
    with pytest.raises(MappingError):
        iso_out(datetime(2026, 1, 2))


def test_it_writes_dates():
    assert date_out(date(2026, 5, 1)) == "2026-05-01"
    assert date_out(odata_date("/Date(1792540800000)/")) == "2026-10-21"
    assert date_out(datetime(2026, 5, 1, 23, tzinfo=timezone(timedelta(hours=-2)))) == "2026-05-02"  # in UTC
    assert date_out(None) is None
    for value in (datetime(2026, 5, 1), "2026-05-01"):
        with pytest.raises(MappingError):
            date_out(value)


def test_it_writes_values_as_tryton_reads_them():
    when = datetime(2026, 11, 30, 9, 15, 0, 7, tzinfo=timezone(timedelta(hours=1)))
    assert tryton_out(when) == {"__class__": "datetime", "year": 2026, "month": 11, "day": 30, "hour": 8,
                                "minute": 15, "second": 0, "microsecond": 7}
    assert tryton_out(date(2026, 5, 1)) == {"__class__": "date", "year": 2026, "month": 5, "day": 1}
    assert tryton_out(Decimal("12.50")) == {"__class__": "Decimal", "decimal": "12.50"}
    assert tryton_out("draft") == "draft" and tryton_out(None) is None and tryton_out(3) == 3
    for value in (when, date(2026, 5, 1)):
        assert tryton_value(tryton_out(value)) == value
    with pytest.raises(MappingError):
        tryton_out(datetime(2026, 11, 30, 9, 15))
