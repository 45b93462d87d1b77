"""bench_sync at a tiny size: the command runs its passes, prints its figures and cleans up."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection as db

from connections.models import Connection
from syncs.models import Record, SeenPage

pytestmark = pytest.mark.django_db(transaction=True)


def figure(output: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s+(.+)$", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return match.group(1)


def test_it_prints_throughput_memory_and_the_copy_ratio():
    out = StringIO()
    call_command("bench_sync", records=120, page_size=50, stdout=out)
    output = out.getvalue()
    assert figure(output, "records") == "120"
    assert re.match(r"[\d.]+ s  ->  [\d,]+ records/s", figure(output, "end to end"))
    assert re.match(r"[\d.]+ s  ->  [\d,]+ records/s", figure(output, "write path alone"))
    assert re.match(r"\d+ MB", figure(output, "peak memory (RSS)"))
    if db.vendor == "postgresql":
        assert re.match(r"\d+%", figure(output, "write alone / COPY"))
    else:
        assert figure(output, "bare COPY").startswith("n/a")


def test_it_leaves_no_benchmark_data_behind():
    call_command("bench_sync", records=30, page_size=10, stdout=StringIO())
    assert not Connection.objects.filter(customer__name="Benchmark").exists()
    assert not Record.objects.exists()


def test_it_times_an_unchanged_resync_against_the_initial_load():
    out = StringIO()
    call_command("bench_sync", records=60, page_size=20, resync=True, stdout=out)
    output = out.getvalue()
    assert re.match(r"[\d.]+ s  ->  [\d,]+ records/s", figure(output, "initial load"))
    assert re.match(r"[\d.]+ s  ->  [\d,]+ records/s \(full mode, 3 pages; ", figure(output, "unchanged re-sync"))
    assert re.match(r"[\d.]+x$", figure(output, "re-sync / load"))
    rewritten = figure(output, "rows rewritten")
    assert rewritten.startswith("0 (record rows" if db.vendor == "postgresql" else "n/a")
    assert not Connection.objects.filter(customer__name="Benchmark").exists()
    assert not Record.objects.exists() and not SeenPage.objects.exists()
