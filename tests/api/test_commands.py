import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from core.models import ApiKey, AuditEvent
from tests.api.conftest import ApiClient, assert_error

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_creates_an_admin_key_printed_once_as_json():
    printed = json.loads(run("create_admin_key", "--name", "billing backend", "--json"))
    key = printed["key"]
    assert key.startswith("sk_") and printed["prefix"] == key[:12]
    stored = ApiKey.objects.get()
    assert stored.name == "billing backend" and stored.key_prefix == key[:12] and key not in stored.key_hash
    assert ApiClient(key).get("/api/v1/connectors").status_code == 200
    assert AuditEvent.objects.filter(action="api_key.created", source="cli").exists()


def test_it_prints_the_admin_key_for_people_too():
    out = run("create_admin_key", "--name", "ops")
    assert "shown once" in out and ApiKey.objects.get().key_prefix in out


def test_it_refuses_an_empty_admin_key_name():
    with pytest.raises(CommandError, match="VALIDATION_FAILED"):
        run("create_admin_key", "--name", "  ")


def test_it_revokes_an_admin_key_by_prefix():
    key = json.loads(run("create_admin_key", "--name", "old", "--json"))["key"]
    assert "Revoked" in run("revoke_admin_key", key[:12])
    assert ApiKey.objects.get().revoked_at is not None
    assert_error(ApiClient(key).get("/api/v1/connectors"), "AUTHENTICATION_FAILED")
    with pytest.raises(CommandError, match="NOT_FOUND"):
        run("revoke_admin_key", "sk_nothing")


def test_it_rotates_a_connection_token_from_the_command_line(connection, token):
    printed = json.loads(run("rotate_connection_token", str(connection.pk), "--json"))
    assert printed["id"] == str(connection.pk) and printed["token"].startswith("ctk_")
    assert_error(ApiClient(token).get("/api/v1/connection"), "AUTHENTICATION_FAILED")
    assert ApiClient(printed["token"]).get("/api/v1/connection").status_code == 200
    assert "shown once" in run("rotate_connection_token", connection.name)
    assert AuditEvent.objects.filter(action="connection.token_rotated", source="cli").count() == 2


def test_it_refuses_to_rotate_the_token_of_a_disconnected_connection(connection):
    from syncs.lifecycle import connection_disconnect
    from tests.syncs.factories import TEST_ACTOR

    connection_disconnect(connection=connection, actor=TEST_ACTOR)
    with pytest.raises(CommandError, match="CONNECTION_NOT_ACTIVE"):
        run("rotate_connection_token", str(connection.pk))
