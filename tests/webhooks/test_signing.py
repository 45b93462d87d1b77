import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.audit import SYSTEM
from tests.webhooks.factories import EndpointFactory
from webhooks import services, signing
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db


def test_it_generates_whsec_secrets_that_the_reference_library_accepts():
    secret = signing.secret_generate()
    assert secret.startswith("whsec_")
    assert len(signing.secret_key(secret)) == 32
    assert secret != signing.secret_generate()
    Webhook(secret)  # raises on a malformed secret


def test_it_signs_what_standardwebhooks_verifies_and_nothing_else():
    secret, other = signing.secret_generate(), signing.secret_generate()
    body = b'{"id":"evt","type":"sync.completed"}'
    headers = signing.signature_headers(secrets=[secret], msg_id="evt", timestamp=int(time.time()), body=body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == {"id": "evt", "type": "sync.completed"}
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_it_sends_signatures_that_verify_with_the_endpoint_secret(receiver, webhook_settings):
    endpoint, secret = services.endpoint_create(url=receiver.url(), actor=SYSTEM)
    event = services.event_emit(type="sync.completed", data={"run": {"id": "r1"}})
    services.delivery_attempt(delivery_id=Delivery.objects.get(event=event, endpoint=endpoint).pk)

    (request,) = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload == {"id": str(event.id), "type": "sync.completed", "created_at": event.payload["created_at"],
                       "connection_id": None, "data": {"run": {"id": "r1"}}}
    assert request.headers["webhook-id"] == str(event.id)
    assert len(request.headers["webhook-signature"].split(" ")) == 1


def test_it_signs_with_both_secrets_during_a_rotation_and_only_the_new_one_after(receiver, webhook_settings, clock):
    endpoint, old_secret = services.endpoint_create(url=receiver.url(), actor=SYSTEM)
    new_secret = services.endpoint_secret_rotate(endpoint=endpoint, actor=SYSTEM)
    assert new_secret != old_secret

    first = services.event_emit(type="sync.completed", data={})
    services.delivery_attempt(delivery_id=Delivery.objects.get(event=first).pk)
    during = receiver.requests[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    # A receiver that still has the old secret and one already updated both verify.
    assert Webhook(old_secret).verify(during.body, during.headers)["id"] == str(first.id)
    assert Webhook(new_secret).verify(during.body, during.headers)["id"] == str(first.id)

    clock.advance(webhook_settings.WEBHOOK_SECRET_ROLLOVER_HOURS * 3600 + 1)
    second = services.event_emit(type="sync.completed", data={})
    services.delivery_attempt(delivery_id=Delivery.objects.get(event=second).pk)
    after = receiver.requests[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    # Verified against the shifted clock's timestamp by signing the same input ourselves.
    timestamp = int(after.headers["webhook-timestamp"])
    assert after.headers["webhook-signature"] == signing.signature(
        secret=new_secret, msg_id=str(second.id), timestamp=timestamp, body=after.body)
    assert after.headers["webhook-signature"] != signing.signature(
        secret=old_secret, msg_id=str(second.id), timestamp=timestamp, body=after.body)


def test_it_keeps_secrets_encrypted_at_rest():
    endpoint = EndpointFactory()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_endpoint WHERE id = %s", [endpoint.pk])
        (stored,) = cursor.fetchone()
    assert "whsec_" not in stored and endpoint.secret not in stored
