"""bench_scheduling at a tiny size, with its own real worker: every run it queues is accounted for,
every Sync now it presses is measured, and it leaves nothing behind. Timings are for people."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from connections.models import Connection, Customer
from core.models import AuditEvent
from syncs.models import Record, SyncRun, SyncState
from tests.dashboard.factories import connections
from webhooks.models import Event

# The bench starts a Celery worker on the test database; its clock is the machine's.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
TINY = ["--runs", "12", "--manual", "3", "--long-pages", "6", "--slow-page-seconds", "0.2", "--timeout", "240"]


def ordered(figures: dict) -> bool:
    return figures["p50"] <= figures["p95"] <= figures["max"]


def assert_nothing_left():
    assert not Customer.objects.filter(external_id="bench-scheduling").exists()
    assert not Connection.objects.exists() and not SyncState.objects.exists() and not SyncRun.objects.exists()
    assert not Record.objects.exists() and not Event.objects.exists() and not AuditEvent.objects.exists()


def test_it_accounts_for_every_run_and_measures_every_manual_start_then_cleans_up():
    out = StringIO()
    call_command("bench_scheduling", *TINY, "--json", stdout=out, stderr=StringIO())

    report = json.loads(out.getvalue())
    without, with_manual = report["passes"]["without_manual"], report["passes"]["with_manual"]
    for figures in (without, with_manual):
        assert not figures["timed_out"] and 0 <= figures["queued_seconds"] <= figures["seconds"]
        assert figures["backlog"] == 12 and figures["succeeded"] == 12
        assert figures["succeeded"] + figures["failed"] + figures["unfinished"] == figures["backlog"]
        assert figures["lateness"]["started"] == 12 and ordered(figures["lateness"])
        assert figures["samples"] > 0 and 1 <= figures["max_running"] <= 2
        assert 1 <= figures["max_per_connection"] <= figures["max_running"]
        assert 0 <= figures["long_slots"] <= figures["busy_slots"] <= 1
    assert without["manual"]["pressed"] == 0 and without["manual"]["measured"] == 0
    assert with_manual["manual"]["pressed"] == with_manual["manual"]["measured"] == 3
    assert ordered(with_manual["manual"]) and with_manual["manual"]["p50"] >= 0
    assert report["throughput_ratio"] == pytest.approx(with_manual["throughput"] / without["throughput"])
    assert report["max_per_connection"] == max(without["max_per_connection"], with_manual["max_per_connection"])
    assert report["cap_held"] == (report["max_per_connection"] <= report["cap"])
    assert_nothing_left()


def test_it_prints_each_figure_next_to_its_target():
    out = StringIO()
    call_command("bench_scheduling", *TINY, stdout=out, stderr=StringIO())

    text = out.getvalue()
    assert re.search(r"^backlog succeeded +12/12 +12/12$", text, re.MULTILINE)
    assert re.search(r"manual start +trigger -> running: p50 [\d.]+ s, p95 [\d.]+ s, max [\d.]+ s "
                     r"\(3 of 3 pressed measured", text)
    assert re.search(r"^throughput ratio +with / without manual runs: \d+%$", text, re.MULTILINE)
    assert re.search(r"manual start p95 under 10 s: [\d.]+ s  (met|NOT met)$", text, re.MULTILINE)
    assert re.search(r"at least 90% of without: \d+%  (met|NOT met)$", text, re.MULTILINE)
    assert re.search(r"slot cap \(2\): at most [12] at once  cap (held|exceeded)$", text, re.MULTILINE)
    assert_nothing_left()


def test_it_refuses_a_database_with_other_connections():
    connections(1)
    with pytest.raises(CommandError, match="scratch database"):
        call_command("bench_scheduling", *TINY, stdout=StringIO())
    assert Connection.objects.count() == 1 and not SyncRun.objects.exists()
