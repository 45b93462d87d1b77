"""Schemathesis on the connect-link routes (connections/api_connect_links.py), with the checks of
test_schemathesis.py, and more examples than its sweep of every operation gives them: path
parameters pointing at a real link as well as made-up ones."""

import pytest
import schemathesis
from schemathesis.generation import GenerationMode

from core.api_keys import api_key_create
from tests.api.test_schemathesis import exercise, wsgi_app  # noqa: F401 - a fixture
from tests.connect_links.factories import make_link
from tests.syncs.factories import TEST_ACTOR

pytestmark = pytest.mark.django_db


def test_it_survives_fuzzing_of_the_connect_link_routes(settings, wsgi_app):  # noqa: F811
    settings.API_RATE_LIMIT = 0
    link, _ = make_link()
    _, key = api_key_create(name="fuzzer", actor=TEST_ACTOR)
    headers = {"Authorization": f"Bearer {key}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    schema.config.generation.update(with_security_parameters=False)
    operations = [op for op in (result.ok() for result in schema.get_all_operations()) if "/connect-links" in op.path]
    assert {(op.method.upper(), op.path.split("/v1", 1)[-1]) for op in operations} == {
        ("POST", "/connect-links"), ("GET", "/connect-links/{link_id}"), ("POST", "/connect-links/{link_id}/revoke")}
    # Revoking last, so the GET fuzzes an active link too.
    operations.sort(key=lambda op: op.path.endswith("/revoke"))
    total, failures = 0, []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            total += exercise(operation, operation.as_strategy(generation_mode=mode), headers, failures)
        if operation.path_parameters:
            strategy = operation.as_strategy(path_parameters={"link_id": str(link.pk)})
            total += exercise(operation, strategy, headers, failures)
    print(f"schemathesis: {total} requests over {len(operations)} connect-link operations")
    assert not failures, "\n\n".join(failures)
    assert total >= 30
