"""What the engine reads from a connector besides records: tombstones in a page, whether the
upstream filters by changed-since, and its total count (docs/architecture.md, "Sync semantics").

The connectors here are the sandbox with one capability changed, registered in its place."""

from decimal import Decimal

import pytest

from connections.connectors import registry
from connections.connectors.base import Page, ReadRequest
from connections.connectors.sandbox import SandboxConnector
from connections.models import Connection
from syncs.engine import run_execute
from syncs.models import Record, SyncRun, SyncState
from syncs.selectors import sync_run_payload
from syncs.services import sync_trigger
from tests.syncs.factories import expected, queued_run, sandbox_connection, stored

pytestmark = pytest.mark.django_db


def sync(connection, entity, mode="incremental") -> SyncRun:
    run = sync_trigger(connection=connection, entities=[entity], mode=mode, trigger="cli")[0].run
    return run_execute(run_id=run.pk)


class TombstoneConnector(SandboxConnector):
    """Sends `tombstones` with the page numbered `tombstone_page` of every read."""

    tombstones: tuple[str, ...] = ()
    tombstone_page = 0

    def fetch_page(self, request: ReadRequest) -> Page:
        page = super().fetch_page(request)
        if int(request.checkpoint.get("page", 0)) == self.tombstone_page:
            page.deleted_remote_ids = list(self.tombstones)
        return page


class NoChangedSinceConnector(SandboxConnector):
    """An upstream that cannot filter by changed-since: it records what it was asked for."""

    requests: list = []

    def filters_changed_since(self, entity: str) -> bool:
        return False

    def fetch_page(self, request: ReadRequest) -> Page:
        type(self).requests.append(request)
        return super().fetch_page(request)


class CountingConnector(SandboxConnector):
    """Reports the total number of live records with every page, as OData's $count does."""

    def fetch_page(self, request: ReadRequest) -> Page:
        page = super().fetch_page(request)
        page.total = len(self.expected(request.entity))
        return page


@pytest.fixture
def use(monkeypatch):
    def install(cls):
        monkeypatch.setitem(registry.CONNECTORS, "sandbox", cls)
    return install


def test_tombstones_in_a_page_are_marked_deleted_with_it(use, monkeypatch):
    conn = sandbox_connection(records=20)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    seq_before = SyncState.objects.get(connection=conn, entity="vendors").change_seq
    monkeypatch.setattr(TombstoneConnector, "tombstones", ("V100003", "V999999"))  # the second was never stored
    use(TombstoneConnector)

    run = sync(conn, "vendors")
    assert run.status == "succeeded", run.error_message
    assert run.deleted == 1
    gone = Record.objects.get(connection=conn, entity="vendors", remote_id="V100003")
    state = SyncState.objects.get(connection=conn, entity="vendors")
    assert gone.deleted_at is not None and gone.change_seq == state.change_seq > seq_before
    assert gone.modified_at == gone.deleted_at
    assert not Record.objects.filter(connection=conn, entity="vendors", remote_id="V999999").exists()
    assert Record.objects.filter(connection=conn, entity="vendors", deleted_at__isnull=True).count() == 19

    again = sync(conn, "vendors")
    assert again.deleted == 0, "a tombstone of a record already deleted changes nothing"
    assert SyncState.objects.get(connection=conn, entity="vendors").change_seq == state.change_seq


def test_a_record_sent_with_its_own_tombstone_stays_deleted_and_unchanged_on_the_next_read(use, monkeypatch):
    # SAP sends a document flagged for deletion (code "L") as a record and as a tombstone.
    conn = sandbox_connection(records=20)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    monkeypatch.setattr(TombstoneConnector, "tombstones", ("V100003",))
    use(TombstoneConnector)
    first = sync(conn, "vendors", mode="full")
    assert (first.status, first.deleted, first.updated) == ("succeeded", 1, 0)
    seq = SyncState.objects.get(connection=conn, entity="vendors").change_seq

    again = sync(conn, "vendors", mode="full")
    assert again.status == "succeeded", again.error_message
    assert (again.created, again.updated, again.unchanged, again.deleted) == (0, 0, 20, 0)
    assert SyncState.objects.get(connection=conn, entity="vendors").change_seq == seq
    assert Record.objects.get(connection=conn, entity="vendors", remote_id="V100003").deleted_at is not None


def test_a_tombstone_on_the_initial_load_deletes_a_record_of_an_earlier_page(use, monkeypatch):
    monkeypatch.setattr(TombstoneConnector, "tombstones", ("V100001",))
    monkeypatch.setattr(TombstoneConnector, "tombstone_page", 1)
    use(TombstoneConnector)
    conn = sandbox_connection(records=20, page_size=10)

    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run.status == "succeeded", run.error_message
    assert (run.created, run.deleted) == (20, 1)
    assert Record.objects.get(connection=conn, entity="vendors", remote_id="V100001").deleted_at is not None


def test_an_incremental_run_reads_everything_when_the_upstream_cannot_filter(use, monkeypatch):
    conn = sandbox_connection(records=40)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    before = dict(Record.objects.filter(connection=conn).values_list("id", "modified_at"))
    monkeypatch.setattr(NoChangedSinceConnector, "requests", [])
    use(NoChangedSinceConnector)

    run = sync(conn, "vendors")
    assert run.status == "succeeded", run.error_message
    assert NoChangedSinceConnector.requests and all(r.since is None and r.window_start
                                                    for r in NoChangedSinceConnector.requests)
    assert (run.fetched, run.unchanged, run.created, run.updated, run.deleted) == (40, 40, 0, 0, 0)
    assert dict(Record.objects.filter(connection=conn).values_list("id", "modified_at")) == before


def test_an_incremental_run_that_read_everything_detects_deletions(use):
    conn = sandbox_connection(records=40)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    Connection.objects.filter(pk=conn.pk).update(config={**conn.config, "deleted_fraction": 0.1})
    conn.refresh_from_db()
    gone = 40 - len(expected(conn, "vendors"))
    assert 1 <= gone <= 10

    assert sync(conn, "vendors").deleted == 0, "the sandbox filters by changed-since: no scan, no deletions"
    use(NoChangedSinceConnector)
    run = sync(conn, "vendors")
    assert run.status == "succeeded" and run.mode == "incremental"
    assert run.deleted == gone
    assert stored(conn, "vendors") == expected(conn, "vendors")


def test_the_deletion_guard_holds_for_an_incremental_scan(use, settings):
    settings.SYNC_DELETION_GUARD_FRACTION = 0.05
    conn = sandbox_connection(records=40)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    Connection.objects.filter(pk=conn.pk).update(config={**conn.config, "deleted_fraction": 0.3})
    use(NoChangedSinceConnector)

    run = sync(conn, "vendors")
    assert run.status == "succeeded" and run.deleted == 0
    assert "guard" in run.error_details["deletion_skipped"]


def test_the_upstream_total_is_stored_and_shown_as_percent_done(use):
    use(CountingConnector)
    conn = sandbox_connection(records=30)
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert run.status == "succeeded", run.error_message
    assert (run.total_records, run.percent_done) == (30, 100)
    payload = sync_run_payload(run)
    assert (payload["total_records"], payload["percent_done"]) == (30, 100)


def test_percent_done_is_unknown_without_a_total_and_capped_at_100():
    assert SyncRun(fetched=10).percent_done is None
    assert SyncRun(fetched=10, total_records=40).percent_done == 25
    assert SyncRun(fetched=50, total_records=40).percent_done == 100


def test_raw_rows_may_hold_the_clients_decimals(use):
    # The upstream client reads JSON numbers with a fraction as Decimal; raw keeps their text.
    class DecimalRawConnector(SandboxConnector):
        def fetch_page(self, request: ReadRequest) -> Page:
            page = super().fetch_page(request)
            for raw in page.records:
                raw["Rating"] = Decimal("4.50")
            return page

    use(DecimalRawConnector)
    conn = sandbox_connection(records=5)
    run = run_execute(run_id=queued_run(conn, "vendors").pk)
    assert (run.status, run.created, run.failed_records) == ("succeeded", 5, 0)
    assert {r.raw["Rating"] for r in Record.objects.filter(connection=conn, entity="vendors")} == {"4.50"}


def test_a_whole_read_without_change_dates_scans_records_older_than_the_history_window(use):
    # An upstream with no change date to filter on (Maximo inventory) is read whole, so a record
    # it no longer returns is deleted whatever its date says.
    class DroppingConnector(NoChangedSinceConnector):
        def fetch_page(self, request: ReadRequest) -> Page:
            page = super().fetch_page(request)
            page.records = [raw for raw in page.records if self.remote_id(request.entity, raw) != "V100002"]
            return page

    conn = sandbox_connection(records=20)
    run_execute(run_id=queued_run(conn, "vendors").pk)
    old = Record.objects.filter(connection=conn, entity="vendors", remote_id="V100002")
    old.update(remote_updated_at="2001-01-01T00:00:00Z")
    use(DroppingConnector)
    run = sync(conn, "vendors")
    assert (run.status, run.deleted) == ("succeeded", 1), run.error_message
    assert old.get().deleted_at is not None
