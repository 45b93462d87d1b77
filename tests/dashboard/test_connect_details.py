"""Test connection shows what the connector's check found for the form (Connector.check_details(),
connector_probe's "details"): values to choose from for a field left empty, such as Business
Central's companies. On the connect form (htmx and without JavaScript), on a saved connection,
and in the API."""

import pytest

from connections.connectors.base import UpstreamError
from connections.connectors.sandbox import SandboxConnector
from connections.models import Connection
from core.api_keys import api_key_create
from dashboard.views.common import Flash
from tests.api.conftest import ApiClient
from tests.dashboard.factories import HTMX, idle_connection
from tests.syncs.factories import TEST_ACTOR

pytestmark = pytest.mark.django_db

COMPANIES = {"choices": {"company_id": [
    {"value": "c1a2b3c4-0001-4000-8000-00000000c0de", "label": "CRONUS USA, Inc."},
    {"value": "c1a2b3c4-0002-4000-8000-00000000c0de", "label": "My <Company>"}]}}


@pytest.fixture
def with_companies(monkeypatch):
    monkeypatch.setattr(SandboxConnector, "check_details", lambda self: COMPANIES)


def choices(body: str) -> list[tuple[str, str]]:
    """The (value, text) of each listed choice, read from the HTML."""
    import re

    return re.findall(r'<li data-value="([^"]+)">([^<]+) <code', body)


@pytest.mark.parametrize("htmx", [True, False])
def test_the_connect_form_lists_the_choices_with_a_passing_test(operator_client, with_companies, htmx):
    body = operator_client.post("/connect/sandbox/test", {"credentials__api_key": "k", "entities": ["vendors"]},
                                **(HTMX if htmx else {})).content.decode()
    assert ("<html" in body) is not htmx
    assert "Connection test passed" in body
    assert '<div class="probe-choices" data-field="company_id">' in body
    assert choices(body) == [("c1a2b3c4-0001-4000-8000-00000000c0de", "CRONUS USA, Inc."),
                             ("c1a2b3c4-0002-4000-8000-00000000c0de", "My &lt;Company&gt;")]
    assert not Connection.objects.exists()


@pytest.mark.parametrize("htmx", [True, False])
def test_the_connect_form_lists_the_choices_when_the_entities_cannot_be_read_yet(operator_client, with_companies,
                                                                                 monkeypatch, htmx):
    # Business Central without a company: the credentials work, no entity can be read until one is chosen.
    def probe(self, entity):
        raise UpstreamError("UPSTREAM_REQUEST_REJECTED", "No company is chosen.")

    monkeypatch.setattr(SandboxConnector, "probe", probe)
    body = operator_client.post("/connect/sandbox/test", {"credentials__api_key": "k", "entities": ["vendors"]},
                                **(HTMX if htmx else {})).content.decode()
    assert "1 of 1 entity cannot be read" in body and "No company is chosen." in body
    assert [value for value, _ in choices(body)] == [c["value"] for c in COMPANIES["choices"]["company_id"]]


def test_nothing_is_listed_without_details(operator_client):
    body = operator_client.post("/connect/sandbox/test", {"credentials__api_key": "k"}, **HTMX).content.decode()
    assert "Connection test passed" in body and "probe-choices" not in body


def test_a_failed_credential_check_lists_nothing(operator_client, with_companies):
    form = {"credentials__api_key": "k", "config__faults": '{"unreachable": true}'}
    body = operator_client.post("/connect/sandbox/test", form, **HTMX).content.decode()
    assert "UPSTREAM_UNREACHABLE" in body and "probe-choices" not in body


@pytest.mark.parametrize("htmx", [True, False])
def test_a_saved_connections_test_lists_them_too(operator_client, with_companies, htmx):
    connection = idle_connection()
    response = operator_client.post(f"/connections/{connection.pk}/test", follow=not htmx, **(HTMX if htmx else {}))
    body = response.content.decode()
    assert "Connection test passed" in body
    if htmx:
        assert choices(body)[0] == ("c1a2b3c4-0001-4000-8000-00000000c0de", "CRONUS USA, Inc.")
    else:  # after the redirect, as the message
        assert ("choose company_id from: CRONUS USA, Inc. (c1a2b3c4-0001-4000-8000-00000000c0de), "
                "My &lt;Company&gt; (c1a2b3c4-0002-4000-8000-00000000c0de)") in body


def test_the_api_returns_them_as_details(with_companies):
    admin = ApiClient(api_key_create(name="ops", actor=TEST_ACTOR)[1])
    connection = idle_connection()
    result = admin.post(f"/api/v1/connections/{connection.pk}/test").json()
    assert result["ok"] is True and result["details"] == COMPANIES


def test_the_flash_keeps_the_details_of_a_passing_probe():
    flash = Flash.from_probe({"ok": True, "entities": {"vendors": {"ok": True, "outcome": "ok"}},
                              "details": COMPANIES})
    assert flash.level == "success" and flash.details == COMPANIES
    assert flash.as_message().endswith("choose company_id from: CRONUS USA, Inc. "
                                       "(c1a2b3c4-0001-4000-8000-00000000c0de), My <Company> "
                                       "(c1a2b3c4-0002-4000-8000-00000000c0de)")
    assert Flash.from_probe({"ok": True, "entities": {}}).details == {}
