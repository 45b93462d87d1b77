from unittest import mock

import pytest

from connections.models import Connection, Customer
from connections.services import connection_token_rotate
from core.errors import CatalogError
from core.models import AuditEvent
from syncs.lifecycle import connection_create, connection_disconnect, connection_pause, connection_update
from tests.syncs.factories import TEST_ACTOR, sandbox_connection

pytestmark = pytest.mark.django_db


def test_it_lifts_auth_failed_when_new_credentials_pass_the_check():
    conn = sandbox_connection(verify=False)
    Connection.objects.filter(pk=conn.pk).update(status="auth_failed", status_reason="401")
    conn.refresh_from_db()
    connection_update(connection=conn, actor=TEST_ACTOR, credentials={"api_key": "new"})
    conn.refresh_from_db()
    assert (conn.status, conn.credentials) == ("active", {"api_key": "new"})


def test_it_changes_nothing_when_the_check_fails():
    conn = sandbox_connection(verify=False, faults={"auth_failure": True})
    with pytest.raises(CatalogError) as exc:
        connection_update(connection=conn, actor=TEST_ACTOR, credentials={"api_key": "new"}, name="Renamed")
    assert exc.value.code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert conn.name == "Sandbox" and conn.credentials == {"api_key": "k"}, "the object in memory is untouched"
    conn.refresh_from_db()
    assert conn.name == "Sandbox" and conn.credentials == {"api_key": "k"}
    assert not AuditEvent.objects.filter(action="connection.updated").exists()


def test_it_refuses_empty_credentials():
    conn = sandbox_connection()
    with pytest.raises(CatalogError) as exc:
        connection_update(connection=conn, actor=TEST_ACTOR, credentials={})
    assert exc.value.code == "VALIDATION_FAILED" and "credentials.api_key" in exc.value.details["fields"]


def test_it_keeps_a_disconnected_connection_disconnected():
    conn = sandbox_connection()
    connection_disconnect(connection=conn, actor=TEST_ACTOR)
    first = Connection.objects.get(pk=conn.pk).disconnected_at
    connection_disconnect(connection=conn, actor=TEST_ACTOR)
    assert Connection.objects.get(pk=conn.pk).disconnected_at == first
    assert AuditEvent.objects.filter(action="connection.disconnected").count() == 1
    for action in (lambda: connection_pause(connection=conn, actor=TEST_ACTOR),
                   lambda: connection_token_rotate(connection=conn, actor=TEST_ACTOR),
                   lambda: connection_update(connection=conn, actor=TEST_ACTOR, name="x")):
        with pytest.raises(CatalogError) as exc:
            action()
        assert exc.value.code == "CONNECTION_NOT_ACTIVE"


def test_it_makes_the_customer_in_the_connections_transaction():
    # A save that fails after the customer was found or made takes the new customer with it.
    with mock.patch("syncs.lifecycle.connection_token_issue", side_effect=RuntimeError("disk full")):
        with pytest.raises(RuntimeError):
            connection_create(customer_name="Initech", connector="sandbox", name="ERP",
                              credentials={"api_key": "k"}, actor=TEST_ACTOR)
    assert not Customer.objects.exists() and not Connection.objects.exists()


def _nested(levels: int):
    value = {"leaf": True}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("field, value", [
    ("metadata", _nested(500)),
    ("config", {"faults": _nested(900)}),
    ("credentials", {"api_key": "k", "extra": _nested(33)}),
    ("metadata", {"blob": "x" * 70_000}),
])
def test_it_refuses_json_too_deep_or_too_large_before_saving_anything(field, value):
    inputs = {"config": {"records": 5}, "credentials": {"api_key": "k"}, "metadata": {}, field: value}
    with pytest.raises(CatalogError) as exc:
        connection_create(customer_name="Deep Ltd", connector="sandbox", name="Deep", actor=TEST_ACTOR, **inputs)
    assert exc.value.code == "VALIDATION_FAILED" and set(exc.value.details["fields"]) == {field}
    assert not Connection.objects.exists() and not Customer.objects.exists()


def test_it_accepts_json_32_levels_deep():
    connection, _ = connection_create(customer_name="Deep Ltd", connector="sandbox", name="Deep", actor=TEST_ACTOR,
                                      credentials={"api_key": "k"}, metadata=_nested(32))
    assert Connection.objects.get(pk=connection.pk).metadata == _nested(32)


@pytest.mark.parametrize("field", ["config", "credentials", "metadata"])
def test_it_refuses_an_update_with_json_too_deep_and_changes_nothing(field):
    conn = sandbox_connection()
    before = (conn.config, conn.credentials, conn.metadata)
    with pytest.raises(CatalogError) as exc:
        connection_update(connection=conn, actor=TEST_ACTOR, name="Renamed", **{field: {"x": _nested(40)}})
    assert exc.value.details["fields"] == {field: "nested deeper than 32 levels"}
    conn.refresh_from_db()
    assert (conn.name, conn.config, conn.credentials, conn.metadata) == ("Sandbox", *before)
    assert not AuditEvent.objects.filter(action="connection.updated").exists()


@pytest.mark.parametrize("numbers", [{"sync_interval_minutes": 0}, {"history_days": 0}])
def test_it_refuses_an_update_to_a_zero_interval_or_history(numbers):
    conn = sandbox_connection()
    with pytest.raises(CatalogError) as exc:
        connection_update(connection=conn, actor=TEST_ACTOR, **numbers)
    assert set(exc.value.details["fields"]) == set(numbers)
    conn.refresh_from_db()
    assert (conn.sync_interval_minutes, conn.history_days) == (60, 90)
