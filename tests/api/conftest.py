import json

import pytest
from django.test import Client

from connections.services import connection_token_issue
from core.api_keys import api_key_create
from core.errors import CATALOGUE
from tests.syncs.factories import TEST_ACTOR, sandbox_connection

ENVELOPE_KEYS = {"code", "type", "message", "request_id", "details"}


class ApiClient:
    """Django's test client speaking JSON with a bearer token."""

    def __init__(self, token: str | None = None):
        self.client = Client()
        self.token = token

    def _headers(self, headers: dict | None, token) -> dict:
        token = self.token if token is ... else token
        result = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        for name, value in (headers or {}).items():
            result["HTTP_" + name.upper().replace("-", "_")] = value
        return result

    def get(self, path, params=None, *, headers=None, token=...):
        return self.client.get(path, params or {}, **self._headers(headers, token))

    def delete(self, path, *, headers=None, token=...):
        return self.client.delete(path, **self._headers(headers, token))

    def _send(self, method, path, body, headers, token, raw):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return getattr(self.client, method)(path, data=data, content_type="application/json",
                                            **self._headers(headers, token))

    def post(self, path, body=None, *, headers=None, token=..., raw=None):
        return self._send("post", path, body, headers, token, raw)

    def patch(self, path, body=None, *, headers=None, token=..., raw=None):
        return self._send("patch", path, body, headers, token, raw)


def assert_error(response, code: str) -> dict:
    """The response is the catalogued error `code` in the envelope, with the request id of the response."""
    spec = CATALOGUE[code]
    assert response.status_code == spec.status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == ENVELOPE_KEYS
    assert error["code"] == code and error["type"] == spec.type
    assert error["message"] and isinstance(error["details"], dict)
    assert error["request_id"] == response["X-Request-ID"]
    return error


@pytest.fixture
def connection():
    return sandbox_connection(name="Plant A", records=30, page_size=10)


@pytest.fixture
def token(connection):
    return connection_token_issue(connection=connection)


@pytest.fixture
def api(token):
    """A client holding the connection token of `connection`."""
    return ApiClient(token)


@pytest.fixture
def other_connection():
    return sandbox_connection(name="Plant B (other tenant)", records=30, page_size=10)


@pytest.fixture
def other_token(other_connection):
    return connection_token_issue(connection=other_connection)


@pytest.fixture
def admin_key():
    _, key = api_key_create(name="backend", actor=TEST_ACTOR)
    return key


@pytest.fixture
def admin(admin_key):
    """A client holding an admin key."""
    return ApiClient(admin_key)


@pytest.fixture
def anonymous():
    return ApiClient(None)


def synced(connection, *entities: str):
    """Runs the connection's queued initial runs of these entities to completion, in process."""
    from syncs.engine import run_execute
    from tests.syncs.factories import queued_run

    for entity in entities:
        run = run_execute(run_id=queued_run(connection, entity).pk)
        assert run.status == "succeeded", run.error_message
    return connection


def feed_position(connection, entity: str) -> int:
    """Takes the next change-feed number of (connection, entity), the way the engine's writes do."""
    from django.db import connection as db
    from django.db import transaction
    from django.utils import timezone

    from syncs.writers import writer_for_database

    with transaction.atomic(), db.cursor() as cursor:
        return writer_for_database().change_position_take(cursor, connection_id=connection.pk, entity=entity,
                                                          now=timezone.now()).seq


def make_records(connection, entity: str, count: int, *, modified_at=None, step_us: int = 0, prefix: str = "R"):
    """`count` records written directly, all at `modified_at` in one change (ties: one feed
    position) or `step_us` microseconds apart (one change each, in that order)."""
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from syncs.models import Record

    base = modified_at or timezone.now() - timedelta(days=1)
    records, seq = [], feed_position(connection, entity)
    for i in range(count):
        remote_id = f"{prefix}{i}"
        data = {"remote_id": remote_id, "number": f"N-{i}", "name": f"item {i}", "custom_fields": {"version": 0}}
        if step_us and i:
            seq = feed_position(connection, entity)
        records.append(Record(id=uuid.uuid5(connection.pk, f"{entity}:{remote_id}"), connection=connection,
                              entity=entity, remote_id=remote_id, data=data, raw={"Id": remote_id},
                              content_hash=f"h{i}", modified_at=base + timedelta(microseconds=step_us * i),
                              change_seq=seq))
    return Record.objects.bulk_create(records)
