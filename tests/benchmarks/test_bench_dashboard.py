"""The benchmark command on a tiny data set: it seeds every table the pages read and times them."""

import pytest
from django.core.management import CommandError, call_command

from connections.models import Connection
from syncs.models import Incident, Record, SyncRun, SyncState
from tests.dashboard.factories import connections
from webhooks.models import Attempt, Delivery, Endpoint

pytestmark = pytest.mark.django_db


def test_it_seeds_and_times_every_page(capsys, settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    call_command("bench_dashboard", connections=40, runs=3000, audit_events=200, deliveries=100, iterations=2)
    out = capsys.readouterr().out
    assert Connection.objects.count() == 40 and SyncRun.objects.count() == 3000
    assert SyncState.objects.count() == 40 * 6 and SyncState.objects.filter(last_run__isnull=False).exists()
    assert Delivery.objects.count() == 100 and Attempt.objects.count() == 100
    assert SyncRun.objects.filter(status="running").exists() and Incident.objects.exists()
    for page in ("overview", "connections", "connection", "runs: failed", "run", "failures", "audit", "webhooks",
                 "webhook delivery", "webhook: add", "webhook: edit", "webhook: delete", "connection: disconnect"):
        assert f"\n{page} " in out, page
    assert "p50 ms" in out and "p95 ms" in out


def test_it_refuses_to_seed_a_database_with_real_connections():
    connections(1)
    with pytest.raises(CommandError, match="scratch database"):
        call_command("bench_dashboard", connections=5, runs=10, iterations=1)


def test_it_seeds_fewer_connections_than_webhook_endpoints(capsys, settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    call_command("bench_dashboard", connections=5, runs=100, audit_events=10, deliveries=30, iterations=1,
                 only="webhooks")
    assert Connection.objects.count() == 5 and Delivery.objects.count() == 30
    assert Endpoint.objects.filter(connection__isnull=False).exists()
    assert "\nwebhooks " in capsys.readouterr().out


def test_it_seeds_records_and_times_the_record_browser(capsys, settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    call_command("bench_dashboard", connections=5, runs=50, audit_events=5, deliveries=5, records=1200, iterations=1,
                 only="record")
    out = capsys.readouterr().out
    records = Record.objects.filter(entity="purchase_orders")
    assert records.count() == 1200 and records.values("connection").distinct().count() == 1
    assert records.filter(deleted_at__isnull=False).count() == 1200 // 250
    for page in ("records", "records: page 2", "records: search a number", "records: a number's start",
                 "records: a remote id", "records: changed in 7 days", "records: only deleted", "record"):
        assert f"\n{page} " in out, page
    assert "  200" in out and "did not answer" not in out
