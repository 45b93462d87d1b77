"""Schemathesis against the live schema: every operation, valid and invalid inputs, a few hundred
requests in all. No answer may be a 500, every answer must match the documented schema (errors
included), and every error must be the catalogued envelope.

Deterministic (derandomized) so CI is stable. To fuzz harder locally:
SCHEMATHESIS_EXAMPLES=200 SCHEMATHESIS_RANDOM=1 pytest tests/api/test_schemathesis.py
"""

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

# Cursors, connector keys, URLs and the like are strings in the schema but checked for meaning
# (400 VALIDATION_FAILED for a made-up cursor is right), so schema-valid input may be refused.
from schemathesis.specs.openapi.checks import positive_data_acceptance

from connections.connectors.entities import ENTITIES
from connections.services import connection_token_issue
from core.errors import CATALOGUE
from syncs.models import Record, SyncRun
from tests.api.conftest import ENVELOPE_KEYS, synced
from tests.syncs.factories import sandbox_connection
from tests.webhooks.factories import AttemptFactory, EndpointFactory

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "8"))
DERANDOMIZE = os.environ.get("SCHEMATHESIS_RANDOM") != "1"


def no_internal_error(ctx, response, case):
    """No 500. The 5xx the schema documents with their own codes stay allowed: 503 (a service is
    down) and 502 UPSTREAM_* (the connector's upstream could not be reached)."""
    assert response.status_code not in (500, 501, 504), response.text[:500]
    if response.status_code == 502:
        assert response.json()["error"]["code"].startswith("UPSTREAM_")
    return True


def envelope_check(ctx, response, case):
    """Every 4xx/5xx answer is {"error": {code, type, message, request_id, details}} from the catalogue."""
    if response.status_code < 400:
        return True
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ENVELOPE_KEYS, error
    spec = CATALOGUE[error["code"]]
    assert (spec.status, spec.type) == (response.status_code, error["type"]), error
    assert error["request_id"] == response.headers["x-request-id"][0], error
    if response.status_code in (429, 503):
        assert int(response.headers["retry-after"][0]) > 0
    return True


@pytest.fixture
def world(settings):
    """Real objects to point path parameters at, for a token of one connection and an admin key."""
    settings.API_RATE_LIMIT = 0  # the fuzzer sends far more than 600 requests a minute
    mine = sandbox_connection(name="Fuzzed tenant", records=5)
    token = connection_token_issue(connection=mine)
    managed = sandbox_connection(name="Fuzzed by admin", records=5)
    # Records the engine stored from the sandbox, so the record schemas are checked against real data.
    synced(mine, *mine.entities)
    records = {entity: Record.objects.filter(connection=mine, entity=entity).first().pk for entity in mine.entities}
    endpoint = EndpointFactory()
    attempt = AttemptFactory(delivery__endpoint=endpoint)
    from core.api_keys import api_key_create
    from tests.syncs.factories import TEST_ACTOR

    _, key = api_key_create(name="fuzzer", actor=TEST_ACTOR)
    return {
        "tokens": {"ConnectionToken": token, "AdminKey": key},
        "ids": {"run_id": str(SyncRun.objects.filter(connection=mine).first().pk), "connection_id": str(managed.pk),
                "endpoint_id": endpoint.pk, "delivery_id": attempt.delivery_id},
        # The admin key reads and syncs the tenant's records under /connections/{id}/.
        "tenant_id": str(mine.pk),
        "records": {str(Record.objects.get(pk=pk).entity).replace("_", "-"): str(pk) for pk in records.values()},
    }


@pytest.fixture
def wsgi_app():
    """Django's WSGI app, in this thread and this test's transaction.

    Like Django's test client, stop request signals from closing the database connection,
    which would end the test transaction the fixtures were written in.
    """
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


ACTING_FOR_A_CONNECTION = {"Records (admin)", "Syncs (admin)"}


def acts_for_a_connection(operation) -> bool:
    """The admin key's routes under /connections/{connection_id}/ that read records or runs."""
    return bool(ACTING_FOR_A_CONNECTION & set(operation.definition.raw.get("tags", [])))


def real_path_parameters(operation, world) -> dict:
    names = {parameter.name for parameter in operation.path_parameters}
    params = {name: world["ids"][name] for name in names if name in world["ids"]}
    if "record_id" in names:
        params["record_id"] = world["records"][operation.path.split("/")[-2]]
    if acts_for_a_connection(operation):
        params["connection_id"] = world["tenant_id"]  # whose records were synced
    return params


def exercise(operation, strategy, headers: dict, failures: list) -> int:
    sent = []

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, headers=headers, additional_checks=[no_internal_error, envelope_check],
                               excluded_checks=[positive_data_acceptance, not_a_server_error])
        sent.append(response.status_code)

    try:
        run()
    except Exception as exc:  # collected, so one run reports every operation that fails
        failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    return len(sent)


def test_it_survives_fuzzing_of_every_operation(world, wsgi_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    # Every request carries a valid token for its operation; missing and bad tokens are
    # covered operation by operation in test_auth.py.
    schema.config.generation.update(with_security_parameters=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 51
    total, failures, sent_by = 0, [], {}
    # Destructive operations last, so the objects the others point at still exist while they run.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    for operation in operations:
        scheme = next(iter(operation.definition.raw["security"][0]))
        headers = {"Authorization": f"Bearer {world['tokens'][scheme]}"}
        before = total
        inputs = [operation.path_parameters, operation.query, operation.headers, operation.body]
        # An operation that takes nothing (GET /connectors, say) has nothing to send wrong.
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if any(map(len, inputs)) else (
            GenerationMode.POSITIVE,)
        for mode in modes:
            total += exercise(operation, operation.as_strategy(generation_mode=mode), headers, failures)
        if operation.path_parameters:
            strategy = operation.as_strategy(path_parameters=real_path_parameters(operation, world))
            total += exercise(operation, strategy, headers, failures)
        sent_by[operation.definition.raw["operationId"]] = (scheme, total - before)
    print(f"schemathesis: {total} requests over {len(operations)} operations")
    assert not failures, "\n\n".join(failures)
    assert total >= 300
    # The admin key's routes for one connection's syncs and records are among them, each sent
    # with the admin key, valid and invalid input alike.
    acting = {op.definition.raw["operationId"] for op in operations if acts_for_a_connection(op)}
    assert acting == {"trigger_connection_syncs", "list_connection_syncs"} | {
        f"{verb}_connection_{entity}" for verb in ("list", "get") for entity in ENTITIES}
    assert all(sent_by[op][0] == "AdminKey" and sent_by[op][1] >= EXAMPLES for op in acting), sent_by
