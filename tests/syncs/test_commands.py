"""connection_create and sync, run as a user runs them: in a subprocess against the test database."""

import json
import os

import pytest

from connections.models import Connection, Customer
from syncs.models import SyncRun
from tests.conftest import wait_for
from tests.helpers import manage
from tests.worker import subprocess_database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def cli(*args):
    from django.conf import settings

    env = {"DATABASE_URL": subprocess_database_url(), "VAR_DIR": str(settings.VAR_DIR),
           "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    return manage(*args, env=env)


def test_it_creates_a_connection_and_prints_its_token_once_as_json():
    result = cli("connection_create", "--customer", "Acme", "--connector", "sandbox", "--name", "ERP",
                 "--config", '{"records": 5}', "--credentials", '{"api_key": "k"}', "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    conn = Connection.objects.get(pk=body["id"])
    assert body["token"].startswith(conn.token_prefix) and conn.token_hash != body["token"]
    assert SyncRun.objects.filter(connection=conn, mode="full", trigger="cli").count() == 6


def test_it_creates_a_connection_for_the_entities_named():
    result = cli("connection_create", "--customer", "Acme", "--connector", "sandbox", "--name", "ERP",
                 "--config", '{"records": 5}', "--credentials", '{"api_key": "k"}',
                 "--entities", "purchase-orders", "vendors", "--json")
    assert result.returncode == 0, result.stderr
    conn = Connection.objects.get(pk=json.loads(result.stdout)["id"])
    assert sorted(conn.entities) == ["purchase_orders", "vendors"]
    assert sorted(SyncRun.objects.filter(connection=conn).values_list("entity", flat=True)) == [
        "purchase_orders", "vendors"]
    unknown = cli("connection_create", "--customer", "Acme", "--connector", "sandbox", "--name", "ERP 2",
                  "--credentials", '{"api_key": "k"}', "--entities", "widgets")
    assert unknown.returncode != 0 and "VALIDATION_FAILED" in unknown.stderr and "widgets" in unknown.stderr


def test_it_explains_bad_input_with_a_catalogued_code():
    bad_json = cli("connection_create", "--customer", "A", "--connector", "sandbox", "--name", "x", "--config", "{no")
    assert bad_json.returncode != 0 and "VALIDATION_FAILED: --config is not valid JSON" in bad_json.stderr
    bad_field = cli("connection_create", "--customer", "A", "--connector", "sandbox", "--name", "x",
                    "--config", '{"records": "lots"}', "--credentials", '{"api_key": "k"}')
    assert bad_field.returncode != 0 and "config.records: expected number or object" in bad_field.stderr
    unknown = cli("connection_create", "--customer", "A", "--connector", "nope", "--name", "x")
    assert unknown.returncode != 0 and "VALIDATION_FAILED" in unknown.stderr and "sandbox" in unknown.stderr
    refused = cli("connection_create", "--customer", "A", "--connector", "sandbox", "--name", "x",
                  "--config", '{"faults": {"auth_failure": true}}', "--credentials", '{"api_key": "k"}')
    assert refused.returncode != 0 and "UPSTREAM_AUTHENTICATION_FAILED" in refused.stderr
    assert not Connection.objects.exists() and not Customer.objects.exists()


def test_it_waits_for_the_runs_and_prints_each_one(celery_worker_process):
    from tests.syncs.factories import sandbox_connection

    conn = sandbox_connection(records=25, entities=["vendors", "assets"])
    wait_for(lambda: not SyncRun.objects.filter(connection=conn, status__in=["queued", "running"]).exists())
    result = cli("sync", str(conn.pk), "--entity", "vendors", "--full", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert (run["entity"], run["mode"], run["status"], run["trigger"]) == ("vendors", "full", "succeeded", "cli")
    assert run["counts"] == {"fetched": 25, "created": 0, "updated": 0, "unchanged": 25, "deleted": 0,
                             "failed_records": 0}
    text = cli("sync", conn.name, "--wait")
    assert text.returncode == 0 and text.stdout.count("succeeded") == 2
    assert text.stdout.count("incremental") == 2 and text.stdout.count("created=0 updated=0") == 2
    assert text.stdout.count("deleted=0 failed=0 error=-") == 2


def test_it_exits_non_zero_when_a_run_fails(celery_worker_process):
    from tests.syncs.factories import sandbox_connection

    conn = sandbox_connection(records=25, entities=["vendors"], faults={"crash_after_page": 0})
    result = cli("sync", str(conn.pk), "--wait")
    assert result.returncode == 1
    assert "failed" in result.stdout and "error=INTERNAL_ERROR" in result.stdout
