"""`manage.py prune`: --dry-run counts per kind what would go and what each rule keeps, and
changes nothing; without it, it prunes and says what went."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from core.models import AuditEvent
from syncs.models import Incident, SyncRun
from tests.connections.factories import ConnectionFactory
from tests.retention.factories import audit_made, delivery_made, incident_on, run_ended
from webhooks.models import Attempt, Delivery, Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fixed_now")]


@pytest.fixture
def history():
    conn = ConnectionFactory()
    for days in (300, 200, 100):
        run_ended(conn, days=days)
    incident_on(run_ended(conn, days=150, status=SyncRun.Status.FAILED), status=Incident.Status.OPEN)
    run_ended(conn, days=1)
    delivery_made(days=40, attempts=2)
    delivery_made(days=35, status=Delivery.Status.PENDING)
    delivery_made(days=3)
    audit_made(days=400)
    audit_made(days=10)


def table_counts() -> tuple:
    return tuple(m.objects.count() for m in (SyncRun, Delivery, Attempt, Event, AuditEvent))


def run(*args) -> str:
    out = StringIO()
    call_command("prune", *args, stdout=out)
    return out.getvalue()


def test_it_counts_what_would_go_and_what_each_rule_keeps_and_changes_nothing(history):
    before = table_counts()

    kinds = {k["kind"]: k for k in json.loads(run("--dry-run", "--json"))["kinds"]}

    assert table_counts() == before == (5, 3, 4, 3, 2)
    runs = kinds["sync runs"]
    assert (runs["older"], runs["recent"], runs["deleted"]) == (4, 1, 3)
    assert runs["kept"] == {"active": 0, "latest of its entity": 0, "an entity's last run": 0,
                            "an unresolved incident's run": 1}
    deliveries = kinds["webhook deliveries"]
    assert (deliveries["older"], deliveries["deleted"], deliveries["cascaded"]) == (2, 1, {"attempts": 2})
    assert deliveries["kept"] == {"pending": 1, "delivered within the limit": 0}
    events = kinds["webhook events"]
    assert (events["deleted"], events["kept"]["a pending delivery needs it"]) == (1, 1)
    assert kinds["audit events"]["deleted"] == 1 and kinds["deleted webhook endpoints"]["deleted"] == 0


def test_it_prints_the_dry_run_per_kind(history):
    out = run("--dry-run")

    assert out.startswith("Dry run: nothing was deleted.\n")
    assert "sync runs (older than 90 days): 3 would go\n  past the limit: 4, within it: 1\n" in out
    assert "  kept past the limit: active 0, latest of its entity 0, an entity's last run 0, " \
           "an unresolved incident's run 1\n" in out
    assert "webhook deliveries (older than 30 days): 1 would go, with 2 attempts\n" in out


def test_it_prunes_and_says_what_went(history):
    out = run("--batch-size", "1")

    assert table_counts() == (2, 2, 2, 2, 1)
    assert "sync runs (older than 90 days): 3 deleted\n" in out
    assert "webhook deliveries (older than 30 days): 1 deleted, with 2 attempts\n" in out
    assert "webhook events (older than 30 days): 1 deleted\n" in out
    assert "audit events (older than 365 days): 1 deleted\n" in out
    assert "time budget" not in out


def test_it_says_when_the_time_budget_ran_out(history):
    out = run("--seconds", "0")

    assert table_counts() == (5, 3, 4, 3, 2)
    assert "The time budget ran out: the next prune goes on from here." in out
