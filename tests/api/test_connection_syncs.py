"""`POST` and `GET /api/v1/connections/{id}/syncs`: an admin key acting for any customer."""

import uuid

import pytest

from core.models import AuditEvent
from syncs.lifecycle import connection_pause
from syncs.models import SyncRun
from tests.api.conftest import ApiClient, assert_error, synced
from tests.syncs.factories import TEST_ACTOR

pytestmark = pytest.mark.django_db

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def idle(connection):
    """The connection with its initial full runs finished, so triggers create new runs."""
    return synced(connection, *connection.entities)


def syncs_of(connection) -> str:
    return f"/api/v1/connections/{connection.pk}/syncs"


def test_it_triggers_a_connections_syncs_in_the_name_of_the_admin_key(admin, idle):
    response = admin.post(syncs_of(idle), {"entities": ["vendors", "purchase-orders"]},
                          headers={"X-Request-ID": "req_backoffice_1"})
    assert response.status_code == 202
    runs = response.json()["runs"]
    assert [(r["entity"], r["mode"], r["trigger"], r["status"], r["created"], r["connection_id"]) for r in runs] == [
        ("vendors", "incremental", "api", "queued", True, str(idle.pk)),
        ("purchase_orders", "incremental", "api", "queued", True, str(idle.pk))]
    stored = SyncRun.objects.get(pk=runs[0]["id"])
    assert stored.requested_by == "backend" == runs[0]["requested_by"]
    assert stored.request_id == "req_backoffice_1"
    audit = AuditEvent.objects.get(action="sync.incremental_requested", connection=idle)
    assert (audit.actor, audit.source, audit.request_id) == ("backend", "api", "req_backoffice_1")


def test_it_triggers_every_enabled_entity_in_full_when_asked(admin, idle):
    runs = admin.post(syncs_of(idle), {"mode": "full"}).json()["runs"]
    assert sorted(r["entity"] for r in runs) == sorted(idle.entities) and {r["mode"] for r in runs} == {"full"}


def test_it_acts_on_any_customers_connection_with_one_key(admin, idle, other_connection):
    synced(other_connection, "vendors")
    theirs = admin.post(syncs_of(other_connection), {"entities": ["vendors"]}).json()["runs"]
    assert theirs[0]["connection_id"] == str(other_connection.pk)
    assert not SyncRun.objects.filter(connection=idle, trigger="api").exists()


def test_it_answers_404_for_an_unknown_connection(admin):
    assert_error(admin.post(f"/api/v1/connections/{UNKNOWN}/syncs", {}), "NOT_FOUND")
    assert_error(admin.get(f"/api/v1/connections/{UNKNOWN}/syncs"), "NOT_FOUND")
    assert not SyncRun.objects.filter(trigger="api").exists()


def test_it_keeps_the_trigger_rules_of_the_token_route(admin, idle):
    admin.post(syncs_of(idle), {"entities": ["assets"]})
    assert_error(admin.post(syncs_of(idle), {"entities": ["assets"], "mode": "full"}), "SYNC_IN_PROGRESS")
    error = assert_error(admin.post(syncs_of(idle), {"entities": ["spaceships"]}), "VALIDATION_FAILED")
    assert "entities" in error["details"]["fields"]
    connection_pause(connection=idle, actor=TEST_ACTOR)
    assert assert_error(admin.post(syncs_of(idle), {}), "CONNECTION_NOT_ACTIVE")["details"]["status"] == "paused"


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_connection_tokens_whichever_connection_the_path_names(method, connection, token,
                                                                         other_connection):
    """A connection token has its own routes (/syncs): here it is 403, for its own connection as
    for another, and for one that does not exist, so the answer says nothing about ids."""
    client = ApiClient(token)
    for target in (connection.pk, other_connection.pk, uuid.UUID(UNKNOWN)):
        path = f"/api/v1/connections/{target}/syncs"
        response = client.post(path, {}) if method == "post" else client.get(path)
        assert "admin key" in assert_error(response, "PERMISSION_DENIED")["message"]
    assert not SyncRun.objects.filter(trigger="api").exists()


# --- Idempotency-Key ----------------------------------------------------------------------------

def test_it_answers_a_repeated_idempotency_key_with_the_first_answer(admin, idle):
    headers = {"Idempotency-Key": "backoffice-resync-7"}
    first = admin.post(syncs_of(idle), {"entities": ["vendors"]}, headers=headers)
    SyncRun.objects.filter(pk=first.json()["runs"][0]["id"]).update(status="succeeded")
    again = admin.post(syncs_of(idle), {"entities": ["vendors"]}, headers=headers)
    assert again.status_code == first.status_code == 202
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert SyncRun.objects.filter(connection=idle, entity="vendors", trigger="api").count() == 1


def test_it_refuses_one_key_for_another_body_or_another_connection(admin, idle, other_connection):
    """The key is the admin key's; the request it stands for is the path (so the connection) and the body."""
    headers = {"Idempotency-Key": "k-1"}
    admin.post(syncs_of(idle), {"entities": ["vendors"]}, headers=headers)
    assert_error(admin.post(syncs_of(idle), {"entities": ["assets"]}, headers=headers), "IDEMPOTENCY_KEY_REUSED")
    assert_error(admin.post(syncs_of(other_connection), {"entities": ["vendors"]}, headers=headers),
                 "IDEMPOTENCY_KEY_REUSED")
    assert not SyncRun.objects.filter(connection=other_connection, trigger="api").exists()


def test_it_keeps_the_admin_keys_idempotency_keys_apart_from_the_tokens(admin, api, idle):
    mine = admin.post(syncs_of(idle), {"entities": ["vendors"]}, headers={"Idempotency-Key": "shared"})
    SyncRun.objects.filter(pk=mine.json()["runs"][0]["id"]).update(status="succeeded")
    theirs = api.post("/api/v1/syncs", {"entities": ["vendors"]}, headers={"Idempotency-Key": "shared"})
    assert theirs.status_code == 202 and "Idempotent-Replayed" not in theirs
    assert theirs.json()["runs"][0]["id"] != mine.json()["runs"][0]["id"]


# --- listing ------------------------------------------------------------------------------------

def test_it_lists_one_connections_runs_with_the_token_routes_filters_and_cursors(admin, api, idle, other_connection):
    admin.post(syncs_of(idle), {"entities": ["vendors", "assets"]})
    everything = admin.get(syncs_of(idle)).json()
    assert everything == api.get("/api/v1/syncs").json(), "the same list the connection's token sees"
    assert len(everything["data"]) == 8 and {r["connection_id"] for r in everything["data"]} == {str(idle.pk)}
    api_runs = admin.get(syncs_of(idle), {"trigger": "api"}).json()["data"]
    assert sorted(r["entity"] for r in api_runs) == ["assets", "vendors"]
    assert [r["entity"] for r in admin.get(syncs_of(idle), {"entity": "assets", "mode": "full"}).json()["data"]] == [
        "assets"]
    pages, cursor = [], None
    while True:
        body = admin.get(syncs_of(idle), {"page_size": 3, **({"cursor": cursor} if cursor else {})}).json()
        pages.append([r["id"] for r in body["data"]])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [run_id for page in pages for run_id in page] == [r["id"] for r in everything["data"]]
    theirs = admin.get(syncs_of(other_connection)).json()["data"]
    assert {r["connection_id"] for r in theirs} == {str(other_connection.pk)} and len(theirs) == 6


@pytest.mark.parametrize("params", [{"status": "exploded"}, {"entity": "spaceships"}, {"page_size": 0},
                                    {"cursor": "not-a-cursor"}, {"connection": "x"}])
def test_it_refuses_bad_run_filters(admin, connection, params):
    error = assert_error(admin.get(syncs_of(connection), params), "VALIDATION_FAILED")
    assert set(error["details"]["fields"]) == set(params)
