"""`GET /api/v1/connections/{id}/{entity}` and `/{record_id}`: any connection's records for an admin key."""

import uuid

import pytest
from django.utils import timezone

from connections.connectors.entities import ENTITIES, entity_path
from syncs.models import Record
from tests.api.conftest import ApiClient, assert_error, feed_position, make_records, synced

pytestmark = pytest.mark.django_db

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def records_of(connection, entity: str) -> str:
    return f"/api/v1/connections/{connection.pk}/{entity_path(entity)}"


def walk(client, path, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        body = client.get(path, {**params, **({"cursor": cursor} if cursor else {})}).json()
        items += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


@pytest.mark.parametrize("entity", ENTITIES)
def test_it_lists_each_entity_exactly_as_the_connections_token_sees_it(admin, api, connection, entity):
    make_records(connection, entity, 12, step_us=1)
    for params in ({}, {"page_size": 5, "include_raw": "true"}):
        mine = admin.get(records_of(connection, entity), params)
        assert mine.status_code == 200 and mine["Content-Type"] == "application/json"
        assert mine.content == api.get(f"/api/v1/{entity_path(entity)}", params).content


def test_it_pages_the_change_feed_with_cursors_the_token_route_takes_too(admin, api, connection):
    make_records(connection, "assets", 7, step_us=1)
    walked = walk(admin, records_of(connection, "assets"), page_size=3)
    assert [item["remote_id"] for item in walked] == [f"R{i}" for i in range(7)]
    # One feed, whichever route reads it: a poll cursor from one goes on in the other.
    poll = admin.get(records_of(connection, "assets"), {"page_size": 500}).json()["poll_cursor"]
    Record.objects.filter(remote_id="R2", entity="assets").update(
        data={"remote_id": "R2", "number": "N-2", "name": "renamed", "custom_fields": {}},
        change_seq=feed_position(connection, "assets"))
    assert [i["name"] for i in api.get("/api/v1/assets", {"cursor": poll}).json()["data"]] == ["renamed"]


def test_it_keeps_the_filters_of_the_token_route(admin, connection):
    records = make_records(connection, "inventory_items", 5, step_us=1)
    Record.objects.filter(pk=records[1].pk).update(deleted_at=timezone.now(),
                                                   change_seq=feed_position(connection, "inventory_items"))
    path = records_of(connection, "inventory_items")
    assert [i["remote_id"] for i in admin.get(path).json()["data"]] == ["R0", "R2", "R3", "R4"]
    everything = admin.get(path, {"include_deleted": "true"}).json()["data"]
    assert [i["remote_id"] for i in everything] == ["R0", "R2", "R3", "R4", "R1"]
    boundary = records[3].modified_at.isoformat()
    assert [i["remote_id"] for i in admin.get(path, {"modified_after": boundary}).json()["data"]] == ["R3", "R4"]


def test_it_shows_only_the_named_connections_records(admin, connection, other_connection):
    mine = make_records(connection, "vendors", 2, prefix="MINE")
    theirs = make_records(other_connection, "vendors", 3, prefix="THEIRS")
    assert {i["id"] for i in admin.get(records_of(connection, "vendors")).json()["data"]} == {
        str(r.id) for r in mine}
    assert {i["id"] for i in admin.get(records_of(other_connection, "vendors")).json()["data"]} == {
        str(r.id) for r in theirs}
    # A record is found only under its own connection.
    assert_error(admin.get(f"{records_of(connection, 'vendors')}/{theirs[0].id}"), "NOT_FOUND")


def test_it_gets_one_record_with_or_without_raw(admin, connection):
    synced(connection, "assets")
    record = Record.objects.filter(connection=connection, entity="assets").first()
    path = f"{records_of(connection, 'assets')}/{record.id}"
    item = admin.get(path).json()
    assert item["id"] == str(record.id) and item["name"] == record.data["name"] and "raw" not in item
    assert admin.get(path, {"include_raw": "true"}).json()["raw"] == record.raw


def test_it_gets_a_deleted_record_with_its_deletion_time(admin, connection):
    record = make_records(connection, "assets", 1)[0]
    Record.objects.filter(pk=record.pk).update(deleted_at=timezone.now())
    assert admin.get(f"{records_of(connection, 'assets')}/{record.id}").json()["deleted_at"] is not None


def test_it_answers_404_for_a_record_of_another_entity_or_none(admin, connection):
    record = make_records(connection, "assets", 1)[0]
    assert_error(admin.get(f"{records_of(connection, 'vendors')}/{record.id}"), "NOT_FOUND")
    assert_error(admin.get(f"{records_of(connection, 'assets')}/{uuid.uuid4()}"), "NOT_FOUND")


def test_it_answers_404_for_an_unknown_connection(admin):
    assert_error(admin.get(f"/api/v1/connections/{UNKNOWN}/assets"), "NOT_FOUND")
    assert_error(admin.get(f"/api/v1/connections/{UNKNOWN}/assets/{uuid.uuid4()}"), "NOT_FOUND")


def test_it_answers_404_for_an_entity_path_that_is_no_entity(admin, connection):
    """Only the six entity paths are routes; `purchase_orders` (the entity's name, not its path) is none."""
    for segment in ("spaceships", "purchase_orders", "connection"):
        error = assert_error(admin.get(f"/api/v1/connections/{connection.pk}/{segment}"), "NOT_FOUND")
        assert "No API route" in error["message"]


@pytest.mark.parametrize("params, field", [
    ({"cursor": "not-a-cursor"}, "cursor"), ({"page_size": 501}, "page_size"),
    ({"modified_after": "yesterday"}, "modified_after"), ({"modified_since": "2024-01-01"}, "modified_since"),
])
def test_it_refuses_bad_query_parameters(admin, connection, params, field):
    error = assert_error(admin.get(records_of(connection, "assets"), params), "VALIDATION_FAILED")
    assert field in error["details"]["fields"]


def test_it_refuses_malformed_ids(admin, connection):
    error = assert_error(admin.get("/api/v1/connections/not-a-uuid/assets"), "VALIDATION_FAILED")
    assert "connection_id" in error["details"]["fields"]
    error = assert_error(admin.get(f"{records_of(connection, 'assets')}/not-a-uuid"), "VALIDATION_FAILED")
    assert "record_id" in error["details"]["fields"]


def test_it_refuses_connection_tokens_whichever_connection_the_path_names(token, connection, other_connection):
    """A connection token reads its records at /{entity}: here it is 403 for its own connection,
    another one or none at all, so ids are never looked at for it."""
    record = make_records(connection, "assets", 1)[0]
    client = ApiClient(token)
    for path in (records_of(connection, "assets"), f"{records_of(connection, 'assets')}/{record.id}",
                 records_of(other_connection, "assets"), f"/api/v1/connections/{UNKNOWN}/assets"):
        assert_error(client.get(path), "PERMISSION_DENIED")
