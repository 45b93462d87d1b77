"""The sync task's log lines: the run's own id and the id of the request that triggered it."""

import logging

import pytest

from core.logcontext import LogContextFilter, current_request_id, current_run_id
from syncs.models import SyncRun
from syncs.tasks import sync_run_execute_task
from tests.syncs.factories import queued_run, sandbox_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(caplog):
    """caplog, its records given the ids the LOGGING filter adds as each line is written."""
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(LogContextFilter())
    return caplog


def _sync_lines(logged) -> set[tuple[str, str]]:
    return {(r.request_id, r.run_id) for r in logged.records if r.name.startswith("syncs.")}


def test_it_logs_the_runs_lines_with_its_id_and_its_request_id(logged):
    run = queued_run(sandbox_connection(records=5, entities=["vendors"]), "vendors")
    sync_run_execute_task(str(run.pk))
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.SUCCEEDED
    assert _sync_lines(logged) == {("req_test", str(run.pk))}
    assert (current_request_id(), current_run_id()) == ("", "")


def test_it_logs_a_scheduled_runs_lines_without_a_request_id(logged):
    run = queued_run(sandbox_connection(records=5, entities=["vendors"]), "vendors")
    SyncRun.objects.filter(pk=run.pk).update(request_id="")
    sync_run_execute_task(str(run.pk))
    assert _sync_lines(logged) == {("-", str(run.pk))}
    logging.getLogger("syncs.engine").info("after the task")
    assert logged.records[-1].run_id == "-" and logged.records[-1].request_id == "-"
