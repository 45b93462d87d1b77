import uuid

import pytest

from connections.models import Connection
from core.models import AuditEvent, IdempotencyKey
from syncs.connection_status import connection_set_status
from syncs.lifecycle import connection_pause
from syncs.models import SyncRun
from tests.api.conftest import assert_error, synced
from tests.syncs.factories import TEST_ACTOR, sandbox_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def idle(connection):
    """The connection with its initial full runs finished, so triggers create new runs."""
    return synced(connection, *connection.entities)


def test_it_triggers_incremental_syncs_for_the_entities_asked(api, idle):
    response = api.post("/api/v1/syncs", {"entities": ["vendors", "purchase-orders"]},
                        headers={"X-Request-ID": "req_trigger_1"})
    assert response.status_code == 202
    runs = response.json()["runs"]
    assert [(r["entity"], r["mode"], r["trigger"], r["status"], r["created"]) for r in runs] == [
        ("vendors", "incremental", "api", "queued", True), ("purchase_orders", "incremental", "api", "queued", True)]
    stored = SyncRun.objects.get(pk=runs[0]["id"])
    assert stored.request_id == "req_trigger_1" == runs[0]["request_id"]
    assert stored.requested_by == idle.token_prefix
    audit = AuditEvent.objects.get(action="sync.incremental_requested", connection=idle)
    assert audit.request_id == "req_trigger_1" and audit.source == "api" and audit.actor == idle.token_prefix


def test_it_triggers_every_enabled_entity_when_none_are_named(api, idle):
    runs = api.post("/api/v1/syncs", {"mode": "full"}).json()["runs"]
    assert sorted(r["entity"] for r in runs) == sorted(idle.entities)
    assert {r["mode"] for r in runs} == {"full"}


def test_it_returns_the_active_run_marked_not_created(api, connection):
    # The initial full runs are still queued: an incremental trigger is covered by them.
    runs = api.post("/api/v1/syncs", {"entities": ["vendors"]}).json()["runs"]
    assert runs[0]["created"] is False and runs[0]["mode"] == "full"
    assert runs[0]["id"] == str(SyncRun.objects.get(connection=connection, entity="vendors").pk)


def test_it_refuses_a_full_sync_over_an_active_incremental_one(api, idle):
    api.post("/api/v1/syncs", {"entities": ["assets"]})
    error = assert_error(api.post("/api/v1/syncs", {"entities": ["assets"], "mode": "full"}), "SYNC_IN_PROGRESS")
    assert error["details"]["entities"] == ["assets"]


def test_it_refuses_syncs_of_a_paused_connection(api, idle):
    connection_pause(connection=idle, actor=TEST_ACTOR)
    error = assert_error(api.post("/api/v1/syncs", {}), "CONNECTION_NOT_ACTIVE")
    assert error["details"]["status"] == "paused"


def test_it_refuses_syncs_that_need_reauthorization(api, idle):
    connection_set_status(connection=idle, status=Connection.Status.AUTH_FAILED, reason="401 from upstream")
    assert_error(api.post("/api/v1/syncs", {}), "REAUTHORIZATION_REQUIRED")


@pytest.mark.parametrize("body, field", [
    ({"entities": ["spaceships"]}, "entities"),
    ({"mode": "partial"}, "mode"),
    ({"entities": "vendors"}, "entities"),
    ({"entitys": ["vendors"]}, "entitys"),
])
def test_it_refuses_invalid_trigger_bodies_field_by_field(api, idle, body, field):
    error = assert_error(api.post("/api/v1/syncs", body), "VALIDATION_FAILED")
    assert field in error["details"]["fields"]


def test_it_refuses_an_entity_the_connection_does_not_sync(api):
    conn = sandbox_connection(name="Vendors only", entities=["vendors"])
    from connections.services import connection_token_issue

    token = connection_token_issue(connection=conn)
    error = assert_error(api.post("/api/v1/syncs", {"entities": ["assets"]}, token=token), "VALIDATION_FAILED")
    assert "entities" in error["details"]["fields"]


# --- Idempotency-Key --------------------------------------------------------------------------

def test_it_answers_a_repeated_idempotency_key_with_the_first_answer(api, idle):
    headers = {"Idempotency-Key": "order-42-resync"}
    first = api.post("/api/v1/syncs", {"entities": ["vendors"]}, headers=headers)
    # The run finished meanwhile: without the key, a new trigger would create a new run.
    SyncRun.objects.filter(pk=first.json()["runs"][0]["id"]).update(status="succeeded")
    again = api.post("/api/v1/syncs", {"entities": ["vendors"]}, headers=headers)
    assert again.status_code == first.status_code == 202
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert SyncRun.objects.filter(connection=idle, entity="vendors", trigger="api").count() == 1
    fresh = api.post("/api/v1/syncs", {"entities": ["vendors"]}, headers={"Idempotency-Key": "another"})
    assert fresh.json()["runs"][0]["id"] != first.json()["runs"][0]["id"]


def test_it_refuses_a_reused_idempotency_key_with_another_body(api, idle):
    headers = {"Idempotency-Key": "k-1"}
    api.post("/api/v1/syncs", {"entities": ["vendors"]}, headers=headers)
    error = assert_error(api.post("/api/v1/syncs", {"entities": ["assets"]}, headers=headers), "IDEMPOTENCY_KEY_REUSED")
    assert error["details"]["idempotency_key"] == "k-1"
    assert not SyncRun.objects.filter(connection=idle, entity="assets", trigger="api").exists()


def test_it_scopes_idempotency_keys_to_the_token(api, idle, other_connection, other_token):
    synced(other_connection, "vendors")
    mine = api.post("/api/v1/syncs", {"entities": ["vendors"]}, headers={"Idempotency-Key": "shared"})
    theirs = api.post("/api/v1/syncs", {"entities": ["vendors"]}, headers={"Idempotency-Key": "shared"},
                      token=other_token)
    assert theirs.status_code == 202 and "Idempotent-Replayed" not in theirs
    their_run, my_run = theirs.json()["runs"][0], mine.json()["runs"][0]
    assert their_run["connection_id"] == str(other_connection.pk) != my_run["connection_id"]


def test_it_does_not_store_errors_so_the_key_can_be_retried(api, idle):
    connection_pause(connection=idle, actor=TEST_ACTOR)
    headers = {"Idempotency-Key": "after-resume"}
    assert_error(api.post("/api/v1/syncs", {}, headers=headers), "CONNECTION_NOT_ACTIVE")
    from syncs.lifecycle import connection_resume

    connection_resume(connection=idle, actor=TEST_ACTOR)
    assert api.post("/api/v1/syncs", {}, headers=headers).status_code == 202


def test_it_forgets_idempotency_keys_after_24_hours(api, idle):
    from datetime import timedelta

    from django.utils import timezone

    headers = {"Idempotency-Key": "old"}
    api.post("/api/v1/syncs", {"entities": ["vendors"]}, headers=headers)
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.post("/api/v1/syncs", {"entities": ["assets"]}, headers=headers)
    assert response.status_code == 202 and "Idempotent-Replayed" not in response


@pytest.mark.parametrize("key", ["has space", "x" * 256, "naïve"])
def test_it_refuses_a_malformed_idempotency_key(api, idle, key):
    error = assert_error(api.post("/api/v1/syncs", {}, headers={"Idempotency-Key": key}), "VALIDATION_FAILED")
    assert "Idempotency-Key" in error["details"]["fields"]


# --- runs ----------------------------------------------------------------------------------------

def test_it_lists_runs_newest_first_with_filters_and_cursors(api, idle):
    api.post("/api/v1/syncs", {"entities": ["vendors", "assets"]})
    everything = api.get("/api/v1/syncs").json()["data"]
    assert len(everything) == 8
    assert [r["queued_at"] for r in everything] == sorted((r["queued_at"] for r in everything), reverse=True)
    api_runs = api.get("/api/v1/syncs", {"trigger": "api"}).json()["data"]
    assert sorted(r["entity"] for r in api_runs) == ["assets", "vendors"]
    assert [r["entity"] for r in api.get("/api/v1/syncs", {"entity": "assets", "mode": "full"}).json()["data"]] == [
        "assets"]
    assert len(api.get("/api/v1/syncs", {"status": "queued"}).json()["data"]) == 2
    pages, cursor = [], None
    while True:
        body = api.get("/api/v1/syncs", {"page_size": 3, **({"cursor": cursor} if cursor else {})}).json()
        pages.append([r["id"] for r in body["data"]])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [run_id for page in pages for run_id in page] == [r["id"] for r in everything]
    assert [len(p) for p in pages] == [3, 3, 2]


@pytest.mark.parametrize("params", [{"status": "exploded"}, {"entity": "spaceships"}, {"mode": "half"},
                                    {"trigger": "cron"}, {"page_size": 0}])
def test_it_refuses_bad_run_filters(api, params):
    error = assert_error(api.get("/api/v1/syncs", params), "VALIDATION_FAILED")
    assert set(error["details"]["fields"]) == set(params)


def test_it_gets_a_run_with_its_counts_and_request_id(api, idle):
    run = SyncRun.objects.filter(connection=idle, entity="vendors").first()
    body = api.get(f"/api/v1/syncs/{run.pk}").json()
    assert body["id"] == str(run.pk) and body["status"] == "succeeded"
    assert body["counts"] == {"fetched": 30, "created": 30, "updated": 0, "unchanged": 0, "deleted": 0,
                              "failed_records": 0}
    assert body["request_id"] == "req_test" and body["error"] is None


def test_it_cancels_a_queued_run(api, idle):
    run_id = api.post("/api/v1/syncs", {"entities": ["vendors"]}).json()["runs"][0]["id"]
    body = api.post(f"/api/v1/syncs/{run_id}/cancel").json()
    assert body["status"] == "cancelled" and body["cancel_requested"] is True
    assert body["error"]["code"] == "SYNC_CANCELLED"
    assert AuditEvent.objects.filter(action="sync.cancel_requested", source="api").exists()


def test_it_asks_a_running_run_to_stop(api, idle):
    run_id = api.post("/api/v1/syncs", {"entities": ["vendors"]}).json()["runs"][0]["id"]
    SyncRun.objects.filter(pk=run_id).update(status="running")
    body = api.post(f"/api/v1/syncs/{run_id}/cancel").json()
    assert body["status"] == "running" and body["cancel_requested"] is True


def test_it_returns_a_finished_run_unchanged_on_cancel(api, idle):
    run = SyncRun.objects.filter(connection=idle, entity="vendors").first()
    body = api.post(f"/api/v1/syncs/{run.pk}/cancel").json()
    assert body["status"] == "succeeded" and body["cancel_requested"] is False


def test_it_hides_other_connections_runs_behind_404(api, other_connection):
    foreign = SyncRun.objects.filter(connection=other_connection).first()
    assert_error(api.get(f"/api/v1/syncs/{foreign.pk}"), "NOT_FOUND")
    assert_error(api.post(f"/api/v1/syncs/{foreign.pk}/cancel"), "NOT_FOUND")
    foreign.refresh_from_db()
    assert foreign.status == "queued" and not foreign.cancel_requested
    assert all(r["connection_id"] != str(other_connection.pk) for r in api.get("/api/v1/syncs").json()["data"])
    assert_error(api.get(f"/api/v1/syncs/{uuid.uuid4()}"), "NOT_FOUND")


def test_it_never_triggers_another_connections_syncs(api, connection, other_connection):
    runs = api.post("/api/v1/syncs", {"entities": ["vendors"]}).json()["runs"]
    assert {r["connection_id"] for r in runs} == {str(connection.pk)}
    assert SyncRun.objects.filter(connection=other_connection).count() == len(other_connection.entities)


def test_it_refuses_a_malformed_run_id(api):
    assert_error(api.get("/api/v1/syncs/123"), "VALIDATION_FAILED")


# --- sync status and the connection ---------------------------------------------------------------

def test_it_reports_sync_status_per_entity(api, connection, settings):
    settings.SYNC_AUTO_RETRIES = 0  # the failed run stays the entity's last word
    synced(connection, "vendors")
    from syncs.engine import run_execute

    connection.config = {**connection.config, "faults": {"server_error_every": 1, "server_error_persistent": True}}
    connection.save()
    failed = run_execute(run_id=SyncRun.objects.get(connection=connection, entity="assets").pk)
    assert failed.status == "failed"
    body = api.get("/api/v1/sync-status").json()
    assert body["connection_id"] == str(connection.pk) and body["connection_status"] == "active"
    by_entity = {e["entity"]: e for e in body["entities"]}
    assert list(by_entity) == connection.entities
    vendors, assets, orders = by_entity["vendors"], by_entity["assets"], by_entity["purchase_orders"]
    assert vendors["status"] == "succeeded" and vendors["last_success_at"] and vendors["record_count"] == 30
    assert vendors["next_scheduled_at"] and vendors["last_error"] is None and vendors["active_run_id"] is None
    assert assets["status"] == "failed" and assets["last_error"]["code"] == "UPSTREAM_SERVER_ERROR"
    assert assets["consecutive_failures"] == 1 and assets["last_success_at"] is None
    assert orders["status"] == "queued" and orders["active_run_id"]


def test_it_shows_no_next_schedule_for_a_paused_connection(api, idle):
    connection_pause(connection=idle, actor=TEST_ACTOR)
    entities = api.get("/api/v1/sync-status").json()["entities"]
    assert entities and all(e["next_scheduled_at"] is None for e in entities)


def test_it_shows_the_tokens_own_connection_without_credentials(api, connection):
    response = api.get("/api/v1/connection")
    body = response.json()
    assert body["id"] == str(connection.pk) and body["name"] == "Plant A" and body["status"] == "active"
    assert body["customer"]["name"] == "Test Customer" and body["token_prefix"] == connection.token_prefix
    assert "credentials" not in body and b"api_key" not in response.content
