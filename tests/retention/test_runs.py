"""syncs/retention.py: which sync runs past RETENTION_RUN_DAYS go, and what each rule keeps."""

import pytest

from core.retention import Budget
from syncs.models import Incident, SyncRun, SyncState
from syncs.retention import runs_prune
from tests.connections.factories import ConnectionFactory
from tests.retention.factories import days_ago, incident_on, run_ended

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fixed_now")]


def prune(batch_size: int = 1000, seconds: float = 60):
    return runs_prune(dry_run=False, batch_size=batch_size, budget=Budget(seconds))


def remaining(*runs) -> set:
    return set(SyncRun.objects.filter(pk__in=[r.pk for r in runs]).values_list("pk", flat=True))


def test_it_prunes_runs_that_ended_before_the_limit_and_keeps_younger_ones():
    conn = ConnectionFactory()
    old = [run_ended(conn, days=d) for d in (200, 120, 91)]
    young = [run_ended(conn, days=d) for d in (89, 10, 1)]

    report = prune()

    assert report.deleted == 3 and report.done
    assert remaining(*old, *young) == {r.pk for r in young}


def test_it_judges_a_run_by_when_it_finished_and_else_by_when_it_was_queued():
    conn = ConnectionFactory()
    queued_long_ago_finished_lately = run_ended(conn, days=100)
    SyncRun.objects.filter(pk=queued_long_ago_finished_lately.pk).update(finished_at=days_ago(5))
    never_finished = run_ended(conn, days=100, status=SyncRun.Status.CANCELLED, finished=False)
    latest = run_ended(conn, days=1)

    prune()

    assert remaining(queued_long_ago_finished_lately, never_finished, latest) == {
        queued_long_ago_finished_lately.pk, latest.pk}


def test_it_keeps_the_latest_run_of_each_connection_and_entity_however_old():
    conn, other = ConnectionFactory(), ConnectionFactory()
    older, latest = run_ended(conn, days=300), run_ended(conn, days=200)
    latest_of_assets = run_ended(conn, days=250, entity="assets")
    latest_of_other_connection = run_ended(other, days=400)

    prune()

    assert remaining(older, latest, latest_of_assets, latest_of_other_connection) == {
        latest.pk, latest_of_assets.pk, latest_of_other_connection.pk}


def test_it_keeps_the_run_a_sync_state_names_as_its_last():
    conn = ConnectionFactory()
    last_run = run_ended(conn, days=300)
    SyncState.objects.create(connection=conn, entity="vendors", last_run=last_run)
    unnamed = run_ended(conn, days=250)
    run_ended(conn, days=1)

    prune()

    assert remaining(last_run, unnamed) == {last_run.pk}
    assert SyncState.objects.get(connection=conn).last_run_id == last_run.pk


@pytest.mark.parametrize("status", [Incident.Status.OPEN, Incident.Status.ACKNOWLEDGED])
def test_it_keeps_the_run_an_unresolved_incident_refers_to(status):
    conn = ConnectionFactory()
    failed = run_ended(conn, days=300, status=SyncRun.Status.FAILED)
    incident = incident_on(failed, status=status)
    run_ended(conn, days=1)

    prune()

    assert remaining(failed) == {failed.pk}
    incident.refresh_from_db()
    assert incident.last_run_id == failed.pk


def test_it_prunes_a_resolved_incidents_run_and_keeps_the_incident():
    conn = ConnectionFactory()
    failed = run_ended(conn, days=300, status=SyncRun.Status.FAILED)
    incident = incident_on(failed, status=Incident.Status.RESOLVED)
    run_ended(conn, days=1)

    prune()

    assert not remaining(failed)
    incident.refresh_from_db()
    assert incident.last_run_id is None, "SET_NULL: the incident stays, without its run"


@pytest.mark.parametrize("status", [SyncRun.Status.QUEUED, SyncRun.Status.RUNNING])
def test_it_never_prunes_an_active_run(status):
    conn = ConnectionFactory()
    active = run_ended(conn, days=300, status=status, finished=False)
    run_ended(conn, days=200)  # newer, so only the active rule keeps it

    prune()

    assert remaining(active) == {active.pk}


def test_it_unlinks_a_kept_run_from_the_pruned_run_it_resumed():
    conn = ConnectionFactory()
    failed = run_ended(conn, days=300, status=SyncRun.Status.FAILED)
    resumed = run_ended(conn, days=200)
    SyncRun.objects.filter(pk=resumed.pk).update(resumed_from=failed)

    prune()

    resumed.refresh_from_db()
    assert not remaining(failed) and resumed.resumed_from_id is None


def test_it_deletes_in_batches_smaller_than_the_rows():
    conn = ConnectionFactory()
    old = [run_ended(conn, days=100 + n) for n in range(7)]
    latest = run_ended(conn, days=1)

    report = prune(batch_size=2)

    assert report.deleted == 7 and report.done
    assert remaining(*old, latest) == {latest.pk}


def test_it_stops_when_the_time_budget_is_spent_and_says_so():
    conn = ConnectionFactory()
    old = [run_ended(conn, days=100 + n) for n in range(3)]
    run_ended(conn, days=1)

    report = prune(batch_size=1, seconds=0)

    assert report.deleted == 0 and report.done is False
    assert remaining(*old) == {r.pk for r in old}


def test_it_counts_a_dry_run_per_rule_and_deletes_nothing():
    conn = ConnectionFactory()
    prunable = [run_ended(conn, days=100 + n) for n in range(3)]
    run_ended(conn, days=95, status=SyncRun.Status.QUEUED, finished=False)  # active
    kept_by_state = run_ended(conn, days=96)
    SyncState.objects.create(connection=conn, entity="vendors", last_run=kept_by_state)
    incident_on(run_ended(conn, days=97, status=SyncRun.Status.FAILED), status=Incident.Status.OPEN)
    run_ended(conn, days=150, entity="assets")  # latest of its entity
    run_ended(conn, days=3)
    run_ended(conn, days=2)

    report = runs_prune(dry_run=True, batch_size=1, budget=Budget(60))

    assert (report.older, report.recent, report.deleted) == (7, 2, 3)
    assert report.kept == {"active": 1, "latest of its entity": 1, "an entity's last run": 1,
                           "an unresolved incident's run": 1}
    assert SyncRun.objects.count() == 9 and remaining(*prunable) == {r.pk for r in prunable}
