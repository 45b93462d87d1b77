"""bench_api runs end to end on a small seed; the figures themselves are for people, not asserts."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from connections.models import Connection
from syncs.models import Record

pytestmark = pytest.mark.django_db


def test_it_seeds_records_and_prints_percentiles_for_the_first_and_a_deep_page():
    out = StringIO()
    call_command("bench_api", "--records", "600", "--requests", "5", stdout=out)
    text = out.getvalue()
    connection = Connection.objects.get(name="API benchmark")
    assert Record.objects.filter(connection=connection, entity="purchase_orders").count() == 600
    assert "Seeded 600 records" in text
    for label in ("first page", "deep page (after record 500)"):
        line = next(line for line in text.splitlines() if label in line)
        assert re.search(r"p50 +[\d.]+ ms +p99 +[\d.]+ ms", line), line
    assert "deep / first" in text


def test_it_reuses_a_seed_and_cleans_up():
    call_command("bench_api", "--records", "400", "--requests", "2", stdout=StringIO())
    out = StringIO()
    call_command("bench_api", "--records", "400", "--requests", "2", "--reuse", "--cleanup", stdout=out)
    assert "Reusing the 400 records" in out.getvalue()
    assert not Connection.objects.filter(name="API benchmark").exists() and not Record.objects.exists()
