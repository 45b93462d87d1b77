"""A re-sync recognises an unchanged record by its input hash (the mapping fingerprint and the
raw JSON) before mapping it (docs/architecture.md, "Sync semantics"): no normalize() call for an
unchanged record, a changed one mapped and updated, a new fingerprint re-mapping everything
without flooding the change feed, and the cursor exactly as when every record is mapped."""

import pytest

from connections.connectors.base import MappingError
from connections.connectors.sandbox import SandboxConnector
from syncs import engine
from syncs.engine import run_execute
from syncs.models import Record
from tests.syncs.test_resync_seen import ENTITY, full_run, loaded, record_row_writes

pytestmark = pytest.mark.django_db


def counting_normalize(monkeypatch, *, change=None, fail: str | None = None) -> list[str]:
    """Wraps the sandbox's normalize(): returns the list of remote ids it is called for. `change`
    alters the unified dict it returns; `fail` is a remote id it refuses to map."""
    calls: list[str] = []
    real = SandboxConnector.normalize

    def normalize(self, entity, raw):
        calls.append(raw["Id"])
        if raw["Id"] == fail:
            raise MappingError(f"{entity} record {fail}: refused by the test's mapping")
        unified = real(self, entity, raw)
        return change(unified) if change else unified

    monkeypatch.setattr(SandboxConnector, "normalize", normalize)
    return calls


def snapshot(conn) -> dict[str, tuple]:
    return {r.remote_id: (r.content_hash, r.input_hash, r.change_seq, r.modified_at, r.data, r.deleted_at)
            for r in Record.objects.filter(connection=conn, entity=ENTITY)}


@pytest.mark.django_db(transaction=True)
def test_it_calls_no_normalize_and_writes_no_row_on_an_unchanged_resync(monkeypatch):
    conn = loaded()
    assert all(len(h) == 32 for _, h, *_ in snapshot(conn).values()), "the initial load stores input hashes"
    calls = counting_normalize(monkeypatch)
    with record_row_writes() as writes:
        run = run_execute(run_id=full_run(conn).pk)
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.unchanged, run.created, run.updated, run.deleted) == (60, 60, 0, 0, 0)
    assert calls == []
    assert writes == [0]


def test_it_normalizes_and_updates_a_record_whose_raw_changed(monkeypatch):
    conn = loaded()
    before = snapshot(conn)
    real_raw = SandboxConnector.raw

    def raw(self, entity, i, created, updated, version):
        record = real_raw(self, entity, i, created, updated, version)
        if record["Id"] == "PO7":
            record["Version"] = version + 1  # mapped to custom_fields.version
        return record

    monkeypatch.setattr(SandboxConnector, "raw", raw)
    calls = counting_normalize(monkeypatch)
    run = run_execute(run_id=full_run(conn).pk)
    assert run.status == "succeeded", run.error_message
    assert (run.unchanged, run.updated, run.created) == (59, 1, 0)
    assert calls == ["PO7"]
    after = snapshot(conn)
    assert after["PO7"][4]["custom_fields"]["version"] == before["PO7"][4]["custom_fields"]["version"] + 1
    assert after["PO7"][1] != before["PO7"][1] and after["PO7"][2] > before["PO7"][2]
    assert {k: v for k, v in after.items() if k != "PO7"} == {k: v for k, v in before.items() if k != "PO7"}


@pytest.mark.django_db(transaction=True)
def test_it_remaps_everything_on_a_new_fingerprint_and_writes_only_input_hashes(monkeypatch):
    conn = loaded()
    before = snapshot(conn)
    monkeypatch.setattr(SandboxConnector, "mapping_version", "2")
    calls = counting_normalize(monkeypatch)
    with record_row_writes() as writes:
        run = run_execute(run_id=full_run(conn).pk)
    assert run.status == "succeeded", run.error_message
    assert (run.unchanged, run.updated, run.created, run.deleted) == (60, 0, 0, 0)
    assert sorted(calls) == sorted(before)
    assert writes == [60]
    after = snapshot(conn)
    for remote_id, (content_hash, input_hash, change_seq, modified_at, data, deleted_at) in before.items():
        assert after[remote_id][1] != input_hash, "the new input hash is stored"
        assert after[remote_id][:1] + after[remote_id][2:] == (content_hash, change_seq, modified_at, data,
                                                               deleted_at), "no change in the feed"

    calls.clear()
    again = run_execute(run_id=full_run(conn).pk)
    assert again.unchanged == 60 and calls == [], "the stored input hashes match from then on"


def test_it_counts_updated_when_a_new_fingerprint_really_changes_the_output(monkeypatch):
    conn = loaded()
    before = snapshot(conn)
    monkeypatch.setattr(SandboxConnector, "mapping_version", "2")

    def remapped(unified: dict) -> dict:
        unified["custom_fields"] = {**unified["custom_fields"], "mapping": "v2"}
        return unified

    counting_normalize(monkeypatch, change=remapped)
    run = run_execute(run_id=full_run(conn).pk)
    assert run.status == "succeeded", run.error_message
    assert (run.unchanged, run.updated, run.created) == (0, 60, 0)
    after = snapshot(conn)
    assert all(after[k][4]["custom_fields"]["mapping"] == "v2" and after[k][2] > before[k][2] for k in before)


def test_it_reports_a_mapping_failure_found_lazily_and_keeps_the_stored_copy(monkeypatch):
    conn = loaded()
    before = snapshot(conn)
    monkeypatch.setattr(SandboxConnector, "mapping_version", "2")
    counting_normalize(monkeypatch, fail="PO12")
    run = run_execute(run_id=full_run(conn).pk)
    assert run.status == "succeeded", run.error_message
    assert (run.failed_records, run.unchanged, run.updated, run.deleted) == (1, 59, 0, 0)
    assert run.error_details["failed_samples"] == [
        {"remote_id": "PO12", "error": "purchase_orders record PO12: refused by the test's mapping"}]
    assert snapshot(conn)["PO12"] == before["PO12"], "stored copy (and its old input hash) kept, not deleted"


def test_it_moves_the_cursor_exactly_as_when_every_record_is_mapped(monkeypatch):
    conn = loaded()
    lazy = run_execute(run_id=full_run(conn).pk)
    assert lazy.status == "succeeded" and lazy.unchanged == 60

    real_prepare = engine.rows_prepare

    def eager(**kwargs):
        return real_prepare(**{**kwargs, "validate": True})  # every record mapped up front

    monkeypatch.setattr(engine, "rows_prepare", eager)
    calls = counting_normalize(monkeypatch)
    eager_run = run_execute(run_id=full_run(conn).pk)
    assert eager_run.status == "succeeded" and eager_run.unchanged == 60 and len(calls) == 60
    assert lazy.cursor_to == eager_run.cursor_to and lazy.cursor_to["updated_at"]
