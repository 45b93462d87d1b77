import uuid
from datetime import timedelta

import pytest
from django.db import connection as db
from django.utils import timezone

from connections.connectors.entities import ENTITIES, entity_path
from syncs.models import Record
from tests.api.conftest import assert_error, feed_position, make_records, synced

pytestmark = pytest.mark.django_db


def walk(api, path, **params) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        response = api.get(path, {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


@pytest.mark.parametrize("entity", ENTITIES)
def test_it_lists_each_entity_with_its_unified_fields(api, connection, entity):
    synced(connection, entity)
    response = api.get(f"/api/v1/{entity_path(entity)}")
    assert response.status_code == 200
    body = response.json()
    stored = {r.remote_id: r for r in Record.objects.filter(connection=connection, entity=entity)}
    assert len(body["data"]) == len(stored) == 30 and body["next_cursor"] is None
    for item in body["data"]:
        record = stored[item["remote_id"]]
        assert item["id"] == str(record.id)
        assert {k: item[k] for k in record.data} == record.data
        assert item["deleted_at"] is None and item["modified_at"].endswith("Z")
        assert "raw" not in item


def test_it_shows_purchase_order_money_as_decimal_strings(api, connection):
    synced(connection, "purchase_orders")
    order = api.get("/api/v1/purchase-orders").json()["data"][0]
    assert isinstance(order["total"], str) and "." in order["total"]
    assert order["lines"] and all(isinstance(line["unit_price"], str) for line in order["lines"])


def test_it_adds_the_upstream_record_with_include_raw(api, connection):
    synced(connection, "vendors")
    items = api.get("/api/v1/vendors", {"include_raw": "true"}).json()["data"]
    raw = dict(Record.objects.filter(connection=connection, entity="vendors").values_list("remote_id", "raw"))
    assert {item["remote_id"]: item["raw"] for item in items} == raw


def test_it_pages_100_by_default_and_up_to_500(api, connection):
    make_records(connection, "assets", 620, step_us=1)
    first = api.get("/api/v1/assets").json()
    assert len(first["data"]) == 100 and first["next_cursor"]
    biggest = api.get("/api/v1/assets", {"page_size": 500}).json()
    assert len(biggest["data"]) == 500 and biggest["next_cursor"]
    rest = api.get("/api/v1/assets", {"page_size": 500, "cursor": biggest["next_cursor"]}).json()
    assert len(rest["data"]) == 120 and rest["next_cursor"] is None


@pytest.mark.parametrize("page_size", ["0", "501", "-1", "ten"])
def test_it_refuses_a_page_size_out_of_range(api, page_size):
    error = assert_error(api.get("/api/v1/assets", {"page_size": page_size}), "VALIDATION_FAILED")
    assert list(error["details"]["fields"]) == ["page_size"]
    assert error["details"]["errors"][0]["location"] == "query"


def test_it_walks_every_record_once_in_change_order_even_with_ties(api, connection):
    tie = timezone.now() - timedelta(hours=3)
    tied = make_records(connection, "vendors", 25, modified_at=tie, prefix="T")  # one change of 25 records
    later = make_records(connection, "vendors", 40, step_us=7, prefix="S")
    pages = walk(api, "/api/v1/vendors", page_size=7)
    seen = [item for page in pages for item in page]
    assert len(seen) == 65 and len({item["id"] for item in seen}) == 65
    # The tied change first, by id; then each later change in the order it was made.
    assert [uuid.UUID(item["id"]) for item in seen] == sorted(r.id for r in tied) + [r.id for r in later]
    assert all(len(page) == 7 for page in pages[:-1])


def test_it_never_skips_or_repeats_an_unchanged_record_while_records_change_between_pages(api, connection):
    """Changes between page fetches: seen and unseen records edited, some deleted, new ones added.

    Keyset order is the change feed's (change_seq, id), so a record that changes moves behind the cursor and
    comes again with its new content; nothing that stays unchanged is skipped or repeated, and
    nothing that changed is missed. An OFFSET would skip records here.
    """
    make_records(connection, "work_orders", 60, step_us=1000)
    original = {str(r.id): r for r in Record.objects.filter(connection=connection, entity="work_orders")}
    returned: list[dict] = []
    changed: dict[str, int] = {}  # id -> version written
    deleted, added = set(), set()
    cursor, fetch = None, 0
    while True:
        body = api.get("/api/v1/work-orders", {"page_size": 8, **({"cursor": cursor} if cursor else {})}).json()
        returned += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        fetch += 1
        seen_ids = [item["id"] for item in returned]
        unseen = sorted(set(original) - set(seen_ids) - deleted - set(changed))
        edits = [seen_ids[fetch % len(seen_ids)], unseen[0]] if unseen else [seen_ids[0]]
        for record_id in edits:
            changed[record_id] = changed.get(record_id, 0) + 1
            record = Record.objects.get(pk=record_id)
            record.data = {**record.data, "custom_fields": {"version": changed[record_id]}}
            record.modified_at, record.change_seq = timezone.now(), feed_position(connection, "work_orders")
            record.save()
        if len(unseen) > 2:  # an unseen record is deleted upstream
            Record.objects.filter(pk=unseen[-1]).update(deleted_at=timezone.now(), modified_at=timezone.now(),
                                                        change_seq=feed_position(connection, "work_orders"))
            deleted.add(unseen[-1])
        new = make_records(connection, "work_orders", 1, modified_at=timezone.now(), prefix=f"new{fetch}-")[0]
        added.add(str(new.id))

    by_id: dict[str, list[dict]] = {}
    for item in returned:
        by_id.setdefault(item["id"], []).append(item)
    assert set(by_id) == (set(original) - deleted) | added, "a live record was skipped or a deleted one shown"
    for record_id, copies in by_id.items():
        if record_id in changed:
            # Last copy is the latest version; every copy is a different version, never the same twice.
            versions = [copy["custom_fields"]["version"] for copy in copies]
            assert versions[-1] == changed[record_id] and len(set(versions)) == len(versions)
        else:
            assert len(copies) == 1, f"unchanged record {record_id} returned {len(copies)} times"
    assert fetch > 5 and len(changed) > 5 and deleted and len(added) == fetch


def test_it_filters_by_modified_after_inclusively(api, connection):
    base = timezone.now() - timedelta(hours=1)
    make_records(connection, "locations", 10, modified_at=base, step_us=1_000_000)
    boundary = (base + timedelta(seconds=4)).isoformat()
    items = api.get("/api/v1/locations", {"modified_after": boundary}).json()["data"]
    assert [item["remote_id"] for item in items] == [f"R{i}" for i in range(4, 10)]


def test_it_reads_a_naive_modified_after_as_utc(api, connection):
    base = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    make_records(connection, "locations", 3, modified_at=base, step_us=1_000_000)
    naive = (base + timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    assert [i["remote_id"] for i in api.get("/api/v1/locations", {"modified_after": naive}).json()["data"]] == [
        "R1", "R2"]


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00Z", "9999-12-31T23:59:59-23:00"])
def test_it_refuses_a_malformed_modified_after(api, value):
    error = assert_error(api.get("/api/v1/locations", {"modified_after": value}), "VALIDATION_FAILED")
    assert "modified_after" in error["details"]["fields"]


def test_it_hides_deleted_records_unless_asked(api, connection):
    records = make_records(connection, "inventory_items", 5, step_us=1)
    Record.objects.filter(pk=records[1].pk).update(deleted_at=timezone.now(),
                                                   change_seq=feed_position(connection, "inventory_items"))
    live = api.get("/api/v1/inventory-items").json()["data"]
    assert [i["remote_id"] for i in live] == ["R0", "R2", "R3", "R4"]
    everything = api.get("/api/v1/inventory-items", {"include_deleted": "true"}).json()["data"]
    assert [i["remote_id"] for i in everything] == ["R0", "R2", "R3", "R4", "R1"], "the deletion is the last change"
    assert everything[-1]["deleted_at"] is not None


@pytest.mark.parametrize("cursor", ["not-a-cursor", "eyJrIjoxfQ", "e30", "eyJrIjoicmVjb3JkczphcGkiLCJ2IjpbMSwyXX0"])
def test_it_refuses_a_malformed_cursor(api, cursor):
    error = assert_error(api.get("/api/v1/assets", {"cursor": cursor}), "VALIDATION_FAILED")
    assert "cursor" in error["details"]["fields"]


def test_it_refuses_a_cursor_of_another_list(api, connection):
    make_records(connection, "assets", 3, step_us=1)
    cursor = api.get("/api/v1/assets", {"page_size": 1}).json()["next_cursor"]
    error = assert_error(api.get("/api/v1/vendors", {"cursor": cursor}), "VALIDATION_FAILED")
    assert error["details"]["fields"]["cursor"] == "this cursor belongs to another list"


def test_it_refuses_unknown_query_parameters(api):
    error = assert_error(api.get("/api/v1/assets", {"modified_since": "2024-01-01", "page_size": 5}),
                         "VALIDATION_FAILED")
    assert error["details"]["fields"] == {"modified_since": "unknown parameter"}


def test_it_refuses_a_query_parameter_given_twice(api):
    error = assert_error(api.get("/api/v1/assets?page_size=5&page_size=6"), "VALIDATION_FAILED")
    assert error["details"]["fields"] == {"page_size": "given more than once"}


def test_it_gets_one_record_with_or_without_raw(api, connection):
    synced(connection, "assets")
    record = Record.objects.filter(connection=connection, entity="assets").first()
    item = api.get(f"/api/v1/assets/{record.id}").json()
    assert item["id"] == str(record.id) and item["name"] == record.data["name"] and "raw" not in item
    assert api.get(f"/api/v1/assets/{record.id}", {"include_raw": "true"}).json()["raw"] == record.raw


def test_it_gets_a_deleted_record_with_its_deletion_time(api, connection):
    record = make_records(connection, "assets", 1)[0]
    Record.objects.filter(pk=record.pk).update(deleted_at=timezone.now())
    assert api.get(f"/api/v1/assets/{record.id}").json()["deleted_at"] is not None


def test_it_answers_404_for_a_record_of_another_entity_or_none(api, connection):
    record = make_records(connection, "assets", 1)[0]
    assert_error(api.get(f"/api/v1/vendors/{record.id}"), "NOT_FOUND")
    assert_error(api.get(f"/api/v1/assets/{uuid.uuid4()}"), "NOT_FOUND")


def test_it_refuses_a_malformed_record_id(api):
    error = assert_error(api.get("/api/v1/assets/not-a-uuid"), "VALIDATION_FAILED")
    assert "record_id" in error["details"]["fields"]


@pytest.mark.parametrize("entity", ENTITIES)
def test_it_never_shows_another_connections_records(api, other_connection, entity):
    foreign = make_records(other_connection, entity, 3)
    assert api.get(f"/api/v1/{entity_path(entity)}", {"include_deleted": "true"}).json()["data"] == []
    assert_error(api.get(f"/api/v1/{entity_path(entity)}/{foreign[0].id}"), "NOT_FOUND")


def _nested(levels: int):
    value = 1
    for _ in range(levels):
        value = {"a": value}
    return value


PLACEHOLDER = {"_error": "stored value nested too deep to render"}


def test_it_still_lists_and_shows_records_when_a_stored_one_is_too_deep(api, connection):
    broken, fine, _ = make_records(connection, "vendors", 3)
    # Written behind the engine's back: deeper than the JSON encoder goes.
    Record.objects.filter(pk=broken.pk).update(data={**broken.data, "custom_fields": _nested(300)},
                                               raw=_nested(500))
    response = api.get("/api/v1/vendors", {"include_raw": "true"})
    assert response.status_code == 200, response.content[:300]
    by_id = {item["id"]: item for item in response.json()["data"]}
    assert by_id[str(broken.pk)]["custom_fields"] == by_id[str(broken.pk)]["raw"] == PLACEHOLDER
    assert by_id[str(broken.pk)]["remote_id"] == broken.remote_id
    assert by_id[str(fine.pk)]["raw"] == fine.raw and by_id[str(fine.pk)]["custom_fields"] == {"version": 0}
    detail = api.get(f"/api/v1/vendors/{broken.pk}", {"include_raw": "true"})
    assert detail.status_code == 200 and detail.json()["raw"] == PLACEHOLDER


def test_it_still_lists_records_when_a_stored_one_is_too_deep_to_parse(api, connection):
    broken, fine = make_records(connection, "vendors", 2)
    levels = 2000  # past orjson's parser and the ORM's json.loads: only raw SQL can store it
    text = '{"a": ' * levels + "1" + "}" * levels
    cast = "CAST(%s AS jsonb)" if db.vendor == "postgresql" else "%s"
    with db.cursor() as cursor:
        cursor.execute(f"UPDATE {Record._meta.db_table} SET raw = {cast} WHERE id = %s", [text, broken.pk.hex
                       if db.vendor == "sqlite" else broken.pk])
    response = api.get("/api/v1/vendors", {"include_raw": "true"})
    assert response.status_code == 200, response.content[:300]
    by_id = {item["id"]: item for item in response.json()["data"]}
    assert by_id[str(broken.pk)]["raw"] == PLACEHOLDER and by_id[str(fine.pk)]["raw"] == fine.raw
