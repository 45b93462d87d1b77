import io
import json

import pytest
from django.core.management import CommandError, call_command
from standardwebhooks import Webhook

from tests.connections.factories import ConnectionFactory
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("webhook_endpoint_create", *args, stdout=out)
    return out.getvalue()


def test_it_creates_an_endpoint_and_prints_the_secret_once():
    output = run("--url", "https://hooks.example.com/in", "--events", "sync.failed", "incident.opened")

    endpoint = Endpoint.objects.get()
    assert endpoint.event_types == ["sync.failed", "incident.opened"] and endpoint.connection is None
    assert f"Endpoint {endpoint.pk} created" in output
    assert endpoint.secret in output
    Webhook(endpoint.secret)


def test_it_prints_json_with_id_and_secret():
    conn = ConnectionFactory()

    data = json.loads(run("--url", "https://hooks.example.com/in", "--connection", str(conn.pk), "--json"))

    endpoint = Endpoint.objects.get()
    assert data == {"id": endpoint.pk, "secret": endpoint.secret}
    assert endpoint.connection == conn


@pytest.mark.parametrize("args, message", [
    (["--url", "http://hooks.example.com/in"], "Invalid endpoint URL"),
    (["--url", "https://169.254.169.254/"], "cloud metadata"),
    (["--url", "https://hooks.example.com/", "--events", "sync.done"], "Unknown event types: sync.done"),
    (["--url", "https://hooks.example.com/", "--connection", "nope"], "No connection with id 'nope'"),
    (["--url", "https://hooks.example.com/", "--connection", "8c0c8a58-8f32-4c9b-9d6e-2f8a7c8a0b11"],
     "No connection"),
])
def test_it_explains_bad_input_and_creates_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Endpoint.objects.exists()


def test_it_exits_non_zero_from_the_shell(tmp_path):
    from tests.helpers import manage

    result = manage("webhook_endpoint_create", "--url", "ftp://nope", env={"VAR_DIR": str(tmp_path)})

    assert result.returncode != 0
    assert "scheme must be https" in result.stderr
