"""Syncs through a real Celery worker process on the configured broker and database."""

import threading

import pytest
from django.db import connection as db

from syncs.models import SyncRun
from syncs.services import sync_run_cancel, sync_trigger
from tests.conftest import wait_for
from tests.syncs.factories import TEST_ACTOR, expected, sandbox_connection, stored

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def finished(runs):
    ids = [r.pk for r in runs]

    def check():
        current = list(SyncRun.objects.filter(pk__in=ids))
        return current if all(not r.is_active for r in current) else None
    return check


def test_it_runs_the_initial_full_sync_on_a_worker(celery_worker_process):
    conn = sandbox_connection(records=230, page_size=50, entities=["vendors", "purchase_orders"])
    runs = wait_for(finished(SyncRun.objects.filter(connection=conn)), timeout=90, message="initial runs")
    assert {(r.entity, r.status, r.created) for r in runs} == {("vendors", "succeeded", 230),
                                                               ("purchase_orders", "succeeded", 230)}
    for entity in ("vendors", "purchase_orders"):
        assert stored(conn, entity) == expected(conn, entity)


def test_it_cancels_a_running_run_between_pages(celery_worker_process):
    conn = sandbox_connection(records=400, page_size=10, entities=["assets"], faults={"slow_page_seconds": 0.2})
    run = SyncRun.objects.get(connection=conn)
    wait_for(lambda: SyncRun.objects.filter(pk=run.pk, status="running", pages__gte=2).exists(), message="progress")
    sync_run_cancel(run=run, actor=TEST_ACTOR)
    (run,) = wait_for(finished([run]), message="cancel")
    assert run.status == "cancelled" and run.error_code == "SYNC_CANCELLED"
    assert 2 <= run.pages < 40
    assert len(stored(conn, "assets")) == run.created, "pages written before the cancel are kept"


def test_it_gives_concurrent_triggers_one_run():
    conn = sandbox_connection(records=10, entities=["vendors"])
    SyncRun.objects.filter(connection=conn).update(status="succeeded")
    barrier, results, errors = threading.Barrier(6), [], []

    def trigger():
        try:
            barrier.wait()
            results.append(sync_trigger(connection=conn, entities=["vendors"], trigger="api")[0])
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=trigger) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.run.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert SyncRun.objects.filter(connection=conn, status__in=["queued", "running"]).count() == 1
