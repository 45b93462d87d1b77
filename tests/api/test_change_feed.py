"""The records API as a change feed: a client polling with its last cursor misses nothing and
sees nothing twice without a new change (docs/api.md, the change feed)."""

import hashlib
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection as db
from django.db import transaction
from django.test import Client
from django.utils import timezone

from connections.models import Connection
from connections.services import connection_token_issue
from syncs.engine import run_execute
from syncs.models import Record
from syncs.services import sync_trigger
from syncs.writers import PreparedPage, Row, record_id, writer_for_database
from tests.api.conftest import synced

PATH = "/api/v1/vendors"


def page_of(connection, versions: dict[str, int]) -> PreparedPage:
    """A prepared page of vendors: remote_id -> the version its content carries."""
    rows = []
    for remote_id, version in versions.items():
        data = orjson.dumps({"remote_id": remote_id, "name": remote_id, "custom_fields": {"version": version}},
                            option=orjson.OPT_SORT_KEYS).decode()
        rows.append(Row(record_id(connection_id=connection.pk, entity="vendors", remote_id=remote_id), remote_id,
                        data, orjson.dumps({"Id": remote_id}).decode(), hashlib.md5(data.encode()).hexdigest(),
                        datetime(2026, 1, 1, tzinfo=UTC)))
    return PreparedPage(rows=rows, failures=[], max_updated_at=None)


def write(connection, versions: dict[str, int], *, now: datetime, hold_seconds: float = 0) -> None:
    """One page transaction as the engine writes it, stamped with a worker's `now`."""
    with transaction.atomic():
        writer_for_database().write(page_of(connection, versions), connection_id=connection.pk, entity="vendors",
                                    now=now, marker=uuid.uuid4(), full=False)
        time.sleep(hold_seconds)  # a slow commit


def poll(api, cursor: str | None) -> tuple[list[dict], str]:
    """Every page from `cursor` to the end of the feed; returns the items and the cursor to keep."""
    items = []
    while True:
        body = api.get(PATH, {"include_deleted": "true", "page_size": 50, **({"cursor": cursor} if cursor else {})})
        body = body.json()
        items += body["data"]
        cursor = body["poll_cursor"]
        if body["next_cursor"] is None:
            return items, cursor


@pytest.mark.django_db
def test_it_feeds_a_change_stamped_by_a_slower_clock_after_one_from_a_faster_clock(api, connection):
    real = timezone.now()
    write(connection, {f"A{i}": 1 for i in range(5)}, now=real + timedelta(minutes=10))  # a worker ahead
    first, cursor = poll(api, None)
    assert [item["remote_id"] for item in first] == sorted((f"A{i}" for i in range(5)),
                                                           key=lambda r: record_id(connection_id=connection.pk,
                                                                                   entity="vendors", remote_id=r))
    write(connection, {f"B{i}": 1 for i in range(5)}, now=real)  # then one behind
    second, cursor = poll(api, cursor)
    assert {item["remote_id"] for item in second} == {f"B{i}" for i in range(5)}
    assert min(item["modified_at"] for item in second) >= max(item["modified_at"] for item in first), (
        "modified_at never goes backwards along the feed")
    assert poll(api, cursor) == ([], cursor), "nothing twice without a new change"


@pytest.mark.django_db
def test_it_gives_a_cursor_to_poll_from_even_on_an_empty_feed(api, connection):
    nothing, cursor = poll(api, None)
    assert nothing == [] and cursor
    write(connection, {"V1": 1}, now=timezone.now())
    items, _ = poll(api, cursor)
    assert [item["remote_id"] for item in items] == ["V1"]


@pytest.mark.django_db
def test_it_feeds_the_deletions_of_a_full_resync_as_changes(api, connection):
    synced(connection, "vendors")
    everything, cursor = poll(api, None)
    assert len(everything) == 30
    Connection.objects.filter(pk=connection.pk).update(config={**connection.config, "deleted_fraction": 0.1})
    run = run_execute(run_id=sync_trigger(connection=connection, entities=["vendors"], mode="full",
                                          trigger="cli")[0].run.pk)
    assert run.status == "succeeded" and run.deleted >= 1
    changes, _ = poll(api, cursor)
    assert len(changes) == run.deleted and all(item["deleted_at"] for item in changes)
    assert {item["id"] for item in changes} == {str(pk) for pk in Record.objects.filter(
        connection=connection, entity="vendors", deleted_at__isnull=False).values_list("id", flat=True)}


@pytest.mark.django_db(transaction=True)
def test_it_feeds_every_change_once_while_pages_commit_concurrently(on_postgres, settings):
    """Two writers commit pages of one (connection, entity) in overlapping transactions, each
    stamped before its transaction began, some committing slowly, while a client polls with its
    last cursor. Records written once must each be seen; records rewritten must be seen in
    order of their versions, never the same version twice, ending at the last one."""
    from tests.syncs.factories import sandbox_connection

    settings.API_RATE_LIMIT = 10**9
    connection = sandbox_connection(records=0)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {connection_token_issue(connection=connection)}")
    api = type("Api", (), {"get": staticmethod(lambda path, params: client.get(path, params))})
    rounds, written_once, errors = 25, set(), []

    def writer(name: str) -> None:
        rng = random.Random(name)
        try:
            for n in range(rounds):
                fresh = {f"{name}-new-{n}-{j}": 0 for j in range(3)}
                written_once.update(fresh)
                write(connection, {**fresh, **{f"{name}-hot-{j}": n for j in range(4)}},
                      now=timezone.now(), hold_seconds=rng.choice([0, 0, 0.002, 0.02]))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            db.close()

    writers = [threading.Thread(target=writer, args=(name,)) for name in ("w1", "w2")]
    for thread in writers:
        thread.start()
    seen: dict[str, list[int]] = {}
    cursor = None
    while any(thread.is_alive() for thread in writers):
        items, cursor = poll(api, cursor)
        for item in items:
            seen.setdefault(item["remote_id"], []).append(item["custom_fields"]["version"])
    items, cursor = poll(api, cursor)
    for item in items:
        seen.setdefault(item["remote_id"], []).append(item["custom_fields"]["version"])

    assert errors == []
    assert written_once <= set(seen), f"missed: {sorted(written_once - set(seen))[:5]}"
    assert all(seen[remote_id] == [0] for remote_id in written_once)
    for name in ("w1", "w2"):
        for j in range(4):
            versions = seen[f"{name}-hot-{j}"]
            assert versions == sorted(set(versions)) and versions[-1] == rounds - 1, versions
    assert poll(api, cursor)[0] == []


@pytest.mark.django_db
def test_it_numbers_changes_where_the_database_cannot_return_from_an_update(api, connection, monkeypatch):
    monkeypatch.setattr(db.features, "can_return_columns_from_insert", False)  # SQLite before 3.35
    write(connection, {"V1": 1}, now=timezone.now())
    _, cursor = poll(api, None)
    write(connection, {"V2": 1}, now=timezone.now() - timedelta(minutes=5))
    items, _ = poll(api, cursor)
    assert [item["remote_id"] for item in items] == ["V2"]
    assert list(Record.objects.filter(connection=connection).order_by("change_seq").values_list(
        "remote_id", flat=True)) == ["V1", "V2"]


@pytest.mark.django_db
def test_it_gives_an_empty_feed_a_poll_cursor_that_cannot_pass_a_change_committed_meanwhile(
        api, connection, monkeypatch):
    from syncs import api as records_api

    real_page = records_api.keyset_page

    def page_then_a_commit(*args, **kwargs):
        page = real_page(*args, **kwargs)  # empty: nothing written yet
        write(connection, {"V1": 1}, now=timezone.now())  # a sync commits right after the read
        return page

    monkeypatch.setattr(records_api, "keyset_page", page_then_a_commit)
    body = api.get(PATH, {"include_deleted": "true"}).json()
    assert body["data"] == []
    monkeypatch.setattr(records_api, "keyset_page", real_page)
    items, _ = poll(api, body["poll_cursor"])
    assert [item["remote_id"] for item in items] == ["V1"]
