from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from tests.api.conftest import assert_error
from tests.webhooks.factories import AttemptFactory, DeliveryFactory, EndpointFactory, EventFactory
from webhooks.models import Delivery, Endpoint, Event

pytestmark = pytest.mark.django_db

NEW = {"url": "https://hooks.example.com/plantsync", "description": "ERP bridge",
       "event_types": ["sync.completed", "sync.failed"]}


def test_it_creates_an_endpoint_and_shows_its_secret_once(admin):
    response = admin.post("/api/v1/webhook-endpoints", NEW)
    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["enabled"] is True
    assert body["event_types"] == ["sync.completed", "sync.failed"] and body["connection_id"] is None
    assert body["deliveries_24h"] == 0 and body["success_rate_24h"] is None
    assert Endpoint.objects.get(pk=body["id"]).secret == body["secret"]
    detail = admin.get(f"/api/v1/webhook-endpoints/{body['id']}")
    assert "secret" not in detail.json() and body["secret"].encode() not in detail.content
    assert AuditEvent.objects.filter(action="webhook_endpoint.created", source="api").exists()


def test_it_scopes_an_endpoint_to_a_connection(admin, connection):
    body = admin.post("/api/v1/webhook-endpoints", {**NEW, "connection_id": str(connection.pk)}).json()
    assert body["connection_id"] == str(connection.pk)
    listed = admin.get("/api/v1/webhook-endpoints", {"connection_id": str(connection.pk)}).json()["data"]
    assert [e["id"] for e in listed] == [body["id"]]


@pytest.mark.parametrize("change, field", [
    ({"url": "http://hooks.example.com/x"}, "url"),
    ({"url": "https://10.0.0.8/hook"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"event_types": ["sync.exploded"]}, "event_types.0"),
    ({"connection_id": "00000000-0000-4000-8000-000000000000"}, "connection_id"),
    ({"secret": "whsec_mine"}, "secret"),
])
def test_it_refuses_invalid_endpoints(admin, change, field):
    error = assert_error(admin.post("/api/v1/webhook-endpoints", {**NEW, **change}), "VALIDATION_FAILED")
    assert field in error["details"].get("fields", {}) or field in error["details"]
    assert not Endpoint.objects.exists()


def test_it_lists_endpoints_newest_first_with_24h_counts(admin):
    old, new = EndpointFactory(), EndpointFactory()
    DeliveryFactory(endpoint=new, status="succeeded")
    DeliveryFactory(endpoint=new, status="failed")
    DeliveryFactory(endpoint=new, status="pending")
    Endpoint.objects.filter(pk=old.pk).update(enabled=False)
    body = admin.get("/api/v1/webhook-endpoints").json()
    assert [e["id"] for e in body["data"]] == [new.pk, old.pk]
    counts = body["data"][0]
    assert [counts[f"{name}_24h"] for name in ("deliveries", "succeeded", "failed", "pending")] == [3, 1, 1, 1]
    assert counts["success_rate_24h"] == 0.5
    assert [e["id"] for e in admin.get("/api/v1/webhook-endpoints", {"enabled": "false"}).json()["data"]] == [old.pk]
    first = admin.get("/api/v1/webhook-endpoints", {"page_size": 1}).json()
    second = admin.get("/api/v1/webhook-endpoints", {"page_size": 1, "cursor": first["next_cursor"]}).json()
    assert [first["data"][0]["id"], second["data"][0]["id"]] == [new.pk, old.pk] and second["next_cursor"] is None


def test_it_updates_only_the_fields_sent(admin, connection):
    endpoint = EndpointFactory(event_types=["sync.failed"])
    body = admin.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"description": "renamed"}).json()
    assert body["description"] == "renamed" and body["event_types"] == ["sync.failed"] and body["url"] == endpoint.url
    scoped = admin.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"connection_id": str(connection.pk)}).json()
    assert scoped["connection_id"] == str(connection.pk)
    unscoped = admin.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"connection_id": None}).json()
    assert unscoped["connection_id"] is None
    assert_error(admin.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"url": "http://plain.example.com"}),
                 "VALIDATION_FAILED")


def test_it_disables_and_re_enables_an_endpoint(admin):
    endpoint = EndpointFactory()
    body = admin.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"enabled": False}).json()
    assert body["enabled"] is False and body["disabled_at"] and body["disabled_reason"] == "Disabled by backend."
    body = admin.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"enabled": True}).json()
    assert body["enabled"] is True and body["disabled_at"] is None


def test_it_deletes_an_endpoint(admin):
    endpoint = EndpointFactory()
    DeliveryFactory(endpoint=endpoint)
    assert admin.delete(f"/api/v1/webhook-endpoints/{endpoint.pk}").status_code == 204
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    # Its deliveries go in the background (tests/retention/test_endpoint_delete.py).
    assert Endpoint.all_objects.get(pk=endpoint.pk).deleted_at is not None


def test_it_sends_a_test_event(admin):
    endpoint = EndpointFactory(event_types=["sync.failed"])
    response = admin.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/test")
    assert response.status_code == 202
    body = response.json()
    delivery = Delivery.objects.get(pk=body["delivery_ids"][0])
    assert delivery.endpoint_id == endpoint.pk and str(delivery.event_id) == body["event_id"]
    assert delivery.event.type == "webhook.test" and delivery.status == "pending"


def test_it_rotates_the_signing_secret(admin):
    endpoint = EndpointFactory()
    old = endpoint.secret
    body = admin.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret").json()
    endpoint.refresh_from_db()
    assert body["secret"] == endpoint.secret != old and endpoint.previous_secret == old
    assert body["previous_secret_expires_at"] is not None
    detail = admin.get(f"/api/v1/webhook-endpoints/{endpoint.pk}").json()
    assert detail["previous_secret_expires_at"] is not None


def test_it_lists_deliveries_newest_first_with_a_status_filter(admin, connection):
    endpoint = EndpointFactory()
    deliveries = [DeliveryFactory(endpoint=endpoint, event=EventFactory(connection=connection), status=status)
                  for status in ("failed", "succeeded", "failed")]
    DeliveryFactory()  # another endpoint's
    body = admin.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries").json()
    assert [d["id"] for d in body["data"]] == [d.pk for d in deliveries[::-1]]
    assert body["data"][0]["event_type"] == "sync.completed" and body["data"][0]["connection_id"] == str(connection.pk)
    failed = admin.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries", {"status": "failed"}).json()["data"]
    assert [d["id"] for d in failed] == [deliveries[2].pk, deliveries[0].pk]
    page = admin.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries", {"page_size": 2}).json()
    rest = admin.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries",
                     {"page_size": 2, "cursor": page["next_cursor"]}).json()
    assert [d["id"] for d in page["data"] + rest["data"]] == [d.pk for d in deliveries[::-1]]
    assert_error(admin.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries", {"status": "lost"}),
                 "VALIDATION_FAILED")


def test_it_shows_a_delivery_with_its_attempts(admin):
    attempt = AttemptFactory(status_code=503, error="HTTP 503: not a 2xx answer.")
    AttemptFactory(delivery=attempt.delivery, number=2, status_code=200, error="")
    body = admin.get(f"/api/v1/webhook-deliveries/{attempt.delivery_id}").json()
    assert [(a["number"], a["status_code"]) for a in body["attempt_log"]] == [(1, 503), (2, 200)]
    assert body["payload"]["id"] == str(attempt.delivery.event_id)


def test_it_resends_a_delivery(admin):
    delivery = DeliveryFactory(status="failed", next_attempt_at=None)
    response = admin.post(f"/api/v1/webhook-deliveries/{delivery.pk}/resend")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at is not None


def test_it_refuses_to_resend_to_a_disabled_endpoint(admin):
    delivery = DeliveryFactory(status="failed", endpoint=EndpointFactory(enabled=False))
    assert_error(admin.post(f"/api/v1/webhook-deliveries/{delivery.pk}/resend"), "INVALID_REQUEST")


def test_it_replays_failed_deliveries_since_a_time(admin):
    endpoint = EndpointFactory()
    recent = [DeliveryFactory(endpoint=endpoint, status="failed") for _ in range(2)]
    old = DeliveryFactory(endpoint=endpoint, status="failed")
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    DeliveryFactory(endpoint=endpoint, status="succeeded")
    since = (timezone.now() - timedelta(days=1)).isoformat()
    response = admin.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/replay", {"since": since})
    assert response.status_code == 202 and response.json() == {"replayed": 2}
    assert set(Delivery.objects.filter(status="pending").values_list("pk", flat=True)) == {d.pk for d in recent}


def test_it_refuses_to_replay_a_disabled_endpoint_or_without_since(admin):
    endpoint = EndpointFactory(enabled=False)
    assert_error(admin.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/replay", {"since": "2024-01-01T00:00:00Z"}),
                 "INVALID_REQUEST")
    error = assert_error(admin.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/replay", {}), "VALIDATION_FAILED")
    assert "since" in error["details"]["fields"]


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/webhook-endpoints/{id}"), ("patch", "/api/v1/webhook-endpoints/{id}"),
    ("delete", "/api/v1/webhook-endpoints/{id}"), ("post", "/api/v1/webhook-endpoints/{id}/test"),
    ("post", "/api/v1/webhook-endpoints/{id}/rotate-secret"), ("get", "/api/v1/webhook-endpoints/{id}/deliveries"),
    ("get", "/api/v1/webhook-deliveries/{id}"), ("post", "/api/v1/webhook-deliveries/{id}/resend"),
])
def test_it_answers_404_for_unknown_endpoints_and_deliveries(admin, method, path):
    response = getattr(admin, method)(path.format(id=987654), **({"body": {}} if method in ("post", "patch") else {}))
    assert_error(response, "NOT_FOUND")
    assert_error(admin.post("/api/v1/webhook-endpoints/987654/replay", {"since": "2024-01-01T00:00:00Z"}), "NOT_FOUND")


@pytest.mark.parametrize("value", ["0", "-4", "abc", str(2 ** 63)])
def test_it_refuses_ids_that_cannot_exist(admin, value):
    assert_error(admin.get(f"/api/v1/webhook-endpoints/{value}"), "VALIDATION_FAILED")


@pytest.mark.parametrize("url", ["https://user:pass@hooks.example.com/in", "https://user@hooks.example.com/in"])
def test_it_refuses_a_url_with_credentials_on_create_and_update(admin, url):
    error = assert_error(admin.post("/api/v1/webhook-endpoints", {**NEW, "url": url}), "VALIDATION_FAILED")
    assert set(error["details"]["fields"]) == {"url"} and not Endpoint.objects.exists()
    endpoint = EndpointFactory()
    error = assert_error(admin.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}", {"url": url}), "VALIDATION_FAILED")
    assert set(error["details"]["fields"]) == {"url"}
    assert Endpoint.objects.get(pk=endpoint.pk).url == endpoint.url
    assert url.encode() not in admin.get("/api/v1/webhook-endpoints").content


@pytest.mark.parametrize("route", ["create", "rotate-secret"])
def test_it_forbids_caching_an_answer_that_carries_a_secret(admin, route):
    if route == "create":
        response = admin.post("/api/v1/webhook-endpoints", NEW)
    else:
        response = admin.post(f"/api/v1/webhook-endpoints/{EndpointFactory().pk}/rotate-secret")
    assert response.status_code in (200, 201) and response.json()["secret"].startswith("whsec_")
    assert "no-store" in [d.strip() for d in response["Cache-Control"].split(",")]


def _nested(levels: int):
    value = "sync.failed"
    for _ in range(levels):
        value = [value]
    return value


def test_it_still_lists_and_shows_endpoints_when_a_stored_one_is_broken(admin):
    broken, fine = EndpointFactory(), EndpointFactory(event_types=["sync.failed"])
    # Written behind the services' back: too deep to encode, and not a list of names.
    Endpoint.objects.filter(pk=broken.pk).update(event_types=_nested(500))
    listed = admin.get("/api/v1/webhook-endpoints")
    assert listed.status_code == 200, listed.content[:300]
    by_id = {e["id"]: e for e in listed.json()["data"]}
    assert by_id[broken.pk]["event_types"] == ["_error: stored value is not a list of event types"]
    assert by_id[fine.pk]["event_types"] == ["sync.failed"]
    detail = admin.get(f"/api/v1/webhook-endpoints/{broken.pk}")
    assert detail.status_code == 200 and detail.json()["event_types"] == by_id[broken.pk]["event_types"]


def test_it_shows_a_delivery_whose_stored_payload_is_too_deep(admin):
    delivery = DeliveryFactory()
    Event.objects.filter(pk=delivery.event_id).update(payload={"data": _nested(500)})
    response = admin.get(f"/api/v1/webhook-deliveries/{delivery.pk}")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["payload"] == {"_error": "stored value nested too deep to render"}
