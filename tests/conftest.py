import os
from datetime import datetime

import pytest
import time_machine
from django.db import connection as db_connection

STRICT = os.environ.get("STRICT_SERVICES") == "1"
# Tests whose outcome depends on the date or the time of day start at this instant. `--now` (or
# TEST_NOW) starts every test there instead, e.g. a minute before midnight or on a DST change, to
# prove the suite does not depend on when it runs.
DEFAULT_NOW = "2026-06-15T10:30:00+00:00"


def pytest_addoption(parser):
    parser.addoption("--now", default=os.environ.get("TEST_NOW") or None,
                     help="start every test at this ISO instant, except those marked worker or real_clock")


@pytest.fixture
def fixed_now(request) -> datetime:
    """The process clock starts at --now (else DEFAULT_NOW) and ticks on from there.

    Not for tests with a worker subprocess or a browser: their clocks are not this process's.
    """
    instant = datetime.fromisoformat(request.config.getoption("--now") or DEFAULT_NOW)
    with time_machine.travel(instant, tick=True):
        yield instant


def shares_its_clock(node) -> bool:
    """A test with a worker, a browser or a bench's processes: no in-process clock can move theirs."""
    return bool(node.get_closest_marker("worker") or node.get_closest_marker("real_clock"))


@pytest.fixture(autouse=True)
def now_option(request):
    """--now moves every test that keeps to this process."""
    if request.config.getoption("--now") and not shares_its_clock(request.node):
        request.getfixturevalue("fixed_now")


def skip_or_fail(reason: str):
    """A missing service skips on a laptop and fails in CI (STRICT_SERVICES=1)."""
    if STRICT:
        pytest.fail(f"STRICT_SERVICES=1 and {reason}")
    pytest.skip(reason)


@pytest.fixture
def on_postgres():
    if db_connection.vendor != "postgresql":
        skip_or_fail("this test needs PostgreSQL (set DATABASE_URL)")


CHROMIUM = "/usr/bin/chromium"
# The flags this machine's closed network needs: without the background ones Chromium keeps
# trying to reach Google's hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright, one per test module."""
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup, django_db_blocker):
    """One real worker per test module; tests using it need `transactional_db`.

    Module scope, so modules that start their own workers (and kill them) have the queue to themselves.
    """
    from tests.worker import WorkerProcess, broker_purge

    broker_purge()
    worker = WorkerProcess(name="session").start()
    yield worker
    worker.stop()


@pytest.fixture
def worker_factory(django_db_setup):
    """Starts extra workers a test may kill; all are stopped at the end of the test."""
    from tests.worker import WorkerProcess

    started = []

    def start(**kwargs) -> WorkerProcess:
        worker = WorkerProcess(**kwargs).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    """Polls until predicate() is truthy; returns its value. For waits on a real worker."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
