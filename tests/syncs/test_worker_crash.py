"""A worker killed mid-run (SIGKILL) delays a sync but never loses or duplicates records."""

import time

import pytest

from syncs.models import Record, SyncRun
from syncs.services import syncs_reap
from tests.conftest import wait_for
from tests.syncs.factories import expected, sandbox_connection, stored

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_it_resumes_from_the_checkpoint_after_the_worker_is_killed(worker_factory, settings):
    conn = sandbox_connection(records=300, page_size=20, entities=["purchase_orders"],
                              faults={"slow_page_seconds": 0.15})
    run = SyncRun.objects.get(connection=conn)
    doomed = worker_factory(name="doomed")
    wait_for(lambda: SyncRun.objects.filter(pk=run.pk, pages__gte=4).exists(), message="a few pages")
    doomed.kill()
    run.refresh_from_db()
    assert run.status == "running" and 4 <= run.pages < 15

    settings.SYNC_STALL_SECONDS, settings.SYNC_AUTO_RETRIES = 1, 5  # the reaper resumes through a retry
    time.sleep(1.5)
    result = syncs_reap()
    assert result["reaped"] == [str(run.pk)]
    run.refresh_from_db()
    assert (run.status, run.error_code) == ("failed", "SYNC_STALLED")
    resumed = SyncRun.objects.get(pk=result["resumed"][0])
    assert resumed.resumed_from_id == run.pk and resumed.checkpoint == run.checkpoint

    worker_factory(name="survivor")
    wait_for(lambda: SyncRun.objects.filter(pk=resumed.pk, status="succeeded").exists(), timeout=90,
             message="the resumed run")
    resumed.refresh_from_db()
    assert resumed.fetched == 300 and resumed.created == 300, "each page written exactly once"
    assert Record.objects.filter(connection=conn).count() == 300
    assert stored(conn, "purchase_orders") == expected(conn, "purchase_orders")
