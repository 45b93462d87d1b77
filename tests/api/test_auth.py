import re

import pytest
from django.utils import timezone

from config.api_v1 import api as ninja_api
from connections.services import connection_token_rotate
from core.api_keys import api_key_revoke
from core.models import ApiKey
from syncs.lifecycle import connection_disconnect
from tests.api.conftest import assert_error
from tests.syncs.factories import TEST_ACTOR

pytestmark = pytest.mark.django_db


def operations(scheme: str) -> list[tuple[str, str]]:
    """(method, path with placeholder ids) of every documented operation secured by `scheme`."""
    schema = ninja_api.get_openapi_schema()
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if operation.get("security") == [{scheme: []}]:
                filled = re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1).endswith(("endpoint_id", "delivery_id"))
                                else "00000000-0000-4000-8000-000000000000", path)
                found.append((method, filled))
    return found


ADMIN_OPERATIONS = operations("AdminKey")
CONNECTION_OPERATIONS = operations("ConnectionToken")


def call(client, method, path, **kwargs):
    return getattr(client, method)(path, **({"body": {}} if method in ("post", "patch") else {}), **kwargs)


def test_it_secures_every_operation_with_one_kind_of_token():
    schema = ninja_api.get_openapi_schema()
    count = sum(len(methods) for methods in schema["paths"].values())
    assert len(ADMIN_OPERATIONS) + len(CONNECTION_OPERATIONS) == count
    assert len(ADMIN_OPERATIONS) >= 20 and len(CONNECTION_OPERATIONS) >= 17


@pytest.mark.parametrize("method, path", CONNECTION_OPERATIONS + ADMIN_OPERATIONS)
def test_it_requires_a_token_everywhere(anonymous, method, path):
    response = call(anonymous, method, path)
    error = assert_error(response, "AUTHENTICATION_FAILED")
    assert "Bearer" in error["message"] and response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", "Bearer ", "Token ctk_abc", "ctk_abc"])
def test_it_refuses_other_schemes_and_empty_tokens(api, header):
    response = api.client.get("/api/v1/connection", HTTP_AUTHORIZATION=header)
    assert_error(response, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("token", ["ctk_not-a-real-token", "sk_not-a-real-key", "something-else"])
def test_it_refuses_unknown_tokens(api, token):
    error = assert_error(api.get("/api/v1/connection", token=token), "AUTHENTICATION_FAILED")
    assert error["message"] == "The token is invalid or has been revoked."


@pytest.mark.parametrize("method, path", ADMIN_OPERATIONS)
def test_it_forbids_admin_routes_to_connection_tokens_whatever_the_id(api, method, path):
    error = assert_error(call(api, method, path), "PERMISSION_DENIED")
    assert "admin key" in error["message"]


@pytest.mark.parametrize("method, path", CONNECTION_OPERATIONS)
def test_it_forbids_connection_routes_to_admin_keys(admin, method, path):
    error = assert_error(call(admin, method, path), "PERMISSION_DENIED")
    assert "connection token" in error["message"]


def test_it_stops_accepting_a_revoked_admin_key(admin, admin_key):
    assert admin.get("/api/v1/connectors").status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get(), actor=TEST_ACTOR)
    assert_error(admin.get("/api/v1/connectors"), "AUTHENTICATION_FAILED")


def test_it_records_when_an_admin_key_was_last_used(admin):
    assert ApiKey.objects.get().last_used_at is None
    before = timezone.now()
    admin.get("/api/v1/connectors")
    assert ApiKey.objects.get().last_used_at >= before


def test_it_stops_accepting_the_token_of_a_disconnected_connection(api, connection):
    assert api.get("/api/v1/connection").status_code == 200
    connection_disconnect(connection=connection, actor=TEST_ACTOR)
    assert_error(api.get("/api/v1/connection"), "AUTHENTICATION_FAILED")


def test_it_accepts_only_the_newest_token_after_rotation(api, connection, token):
    new = connection_token_rotate(connection=connection, actor=TEST_ACTOR)
    assert_error(api.get("/api/v1/connection"), "AUTHENTICATION_FAILED")
    assert api.get("/api/v1/connection", token=new).status_code == 200
