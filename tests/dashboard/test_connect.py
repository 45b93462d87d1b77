"""Connect a system: the picker, the generated form, Test connection and Save."""

import pytest

from connections.models import Connection, Customer
from core.models import AuditEvent
from syncs.models import SyncRun
from tests.connections.factories import sandbox_checks_counted
from tests.dashboard.factories import HTMX

pytestmark = pytest.mark.django_db

FORM = {"customer_name": "Acme", "customer_external_id": "acme-1", "name": "Acme ERP", "sync_interval_minutes": 30,
        "history_days": 60, "entities": ["vendors", "assets"], "credentials__api_key": "k-123",
        "config__seed": 3, "config__records": "25", "config__page_size": 10}


def test_it_lists_the_connector_catalogue(viewer_client):
    body = viewer_client.get("/connect/").content.decode()
    assert "Sandbox ERP/CMMS" in body and 'href="/connect/sandbox/"' in body


def test_it_generates_the_form_from_the_connector_fields(operator_client):
    body = operator_client.get("/connect/sandbox/").content.decode()
    assert 'name="credentials__api_key"' in body and 'type="password"' in body
    for name in ("seed", "records", "page_size", "change_rate", "faults"):
        assert f'name="config__{name}"' in body, name
    assert "Test connection" in body and "Save and start the first sync" in body


def test_it_answers_404_for_an_unknown_connector(operator_client):
    assert operator_client.get("/connect/nope/").status_code == 404


def test_it_tests_the_settings_inline_without_saving(operator_client):
    response = operator_client.post("/connect/sandbox/test", {"credentials__api_key": "k"}, **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<form') and 'id="connect-form"' in body and "Connection test passed" in body
    assert not Connection.objects.exists()
    assert AuditEvent.objects.get(action="connector.tested").details["ok"] is True


@pytest.mark.parametrize("htmx", [True, False])
def test_it_tests_each_chosen_entity(operator_client, monkeypatch, htmx):
    from connections.connectors.base import UpstreamError
    from connections.connectors.sandbox import SandboxConnector

    probed = []

    def probe(self, entity):
        probed.append(entity)
        if entity == "assets":
            raise UpstreamError("UPSTREAM_PERMISSION_DENIED", "No authorization for equipment.")

    monkeypatch.setattr(SandboxConnector, "probe", probe)
    form = {"credentials__api_key": "k", "entities": ["vendors", "assets"]}
    body = operator_client.post("/connect/sandbox/test", form, **(HTMX if htmx else {})).content.decode()
    assert probed == ["vendors", "assets"]
    assert ("<html" in body) is not htmx
    assert "1 of 2 entities cannot be read" in body
    assert 'data-entity="vendors" data-outcome="ok"' in body
    assert 'data-entity="assets" data-outcome="no_permission"' in body and "No authorization for equipment." in body
    assert AuditEvent.objects.get(action="connector.tested").details["entities"] == {
        "vendors": "ok", "assets": "no_permission"}


def test_it_tests_every_entity_when_none_is_chosen(operator_client):
    body = operator_client.post("/connect/sandbox/test", {"credentials__api_key": "k"}, **HTMX).content.decode()
    assert body.count('data-outcome="ok"') == 6 and "every entity tested can be read" in body


def test_it_shows_the_catalogued_error_of_a_failed_test(operator_client):
    form = {"credentials__api_key": "k", "config__faults": '{"unreachable": true}'}
    body = operator_client.post("/connect/sandbox/test", form, **HTMX).content.decode()
    assert "UPSTREAM_UNREACHABLE" in body and "Check the instance URL" in body


def test_it_shows_validation_errors_of_a_test(operator_client):
    body = operator_client.post("/connect/sandbox/test", {"credentials__api_key": ""}, **HTMX).content.decode()
    assert "VALIDATION_FAILED" in body


def test_it_tests_without_javascript_on_the_full_form(operator_client):
    response = operator_client.post("/connect/sandbox/test", {"credentials__api_key": "k"})
    body = response.content.decode()
    assert "<html" in body and "Connection test passed" in body and 'name="customer_name"' in body


def test_it_saves_queues_the_initial_full_sync_and_redirects_to_the_token_page(operator_client):
    response = operator_client.post("/connect/sandbox/", FORM)
    connection = Connection.objects.get()
    assert response.status_code == 303 and response["Location"] == f"/connections/{connection.pk}/connected"
    assert (connection.name, connection.customer.external_id, connection.entities) == ("Acme ERP", "acme-1",
                                                                                       ["vendors", "assets"])
    assert connection.config["records"] == 25 and connection.sync_interval_minutes == 30
    runs = SyncRun.objects.filter(connection=connection)
    assert {(r.entity, r.mode, r.status, r.trigger) for r in runs} == {
        ("vendors", "full", "queued", "dashboard"), ("assets", "full", "queued", "dashboard")}
    assert "ctk_" not in response.content.decode()  # the token is on the page redirected to, once
    assert AuditEvent.objects.get(action="connection.created").actor == "operator"


def test_it_checks_the_credentials_upstream_once_per_save(operator_client):
    with sandbox_checks_counted() as checks:
        assert operator_client.post("/connect/sandbox/", FORM).status_code == 303
    assert len(checks) == 1 and Connection.objects.count() == 1


def test_it_leaves_no_customer_behind_when_the_connector_refuses_the_config(operator_client):
    response = operator_client.post("/connect/sandbox/", {**FORM, "config__records": '{"spaceships": 3}'})
    assert response.status_code == 400
    assert not Connection.objects.exists() and not Customer.objects.exists()


def test_it_keeps_the_form_with_the_catalogued_error_when_the_check_fails(operator_client):
    response = operator_client.post("/connect/sandbox/", {**FORM, "config__faults": '{"auth_failure": true}'})
    body = response.content.decode()
    assert response.status_code == 400
    assert "UPSTREAM_AUTHENTICATION_FAILED" in body and "Check the marked credentials" in body
    assert "Reauthorize the connection" not in body  # there is no connection yet
    assert response.context["form"].errors["credentials__api_key"] == [
        "The system rejected these credentials: check this value."]
    assert 'value="Acme ERP"' in body and "k-123" not in body  # the secret is not echoed back
    assert not Connection.objects.exists() and not Customer.objects.exists()


def test_it_puts_field_errors_on_their_fields(operator_client):
    response = operator_client.post("/connect/sandbox/", {**FORM, "config__page_size": "many", "name": ""})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"config__page_size", "name"}


def test_it_refuses_read_only_users(viewer_client):
    assert viewer_client.post("/connect/sandbox/", FORM).status_code == 403
    assert viewer_client.post("/connect/sandbox/test", FORM).status_code == 403
    assert "Save and start the first sync" not in viewer_client.get("/connect/sandbox/").content.decode()
    assert not Connection.objects.exists()


def test_it_renders_in_a_bounded_number_of_queries(operator_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        assert operator_client.get("/connect/sandbox/").status_code == 200


@pytest.mark.parametrize("depth", [40, 5000])
def test_it_refuses_json_nested_too_deep_on_the_form(operator_client, depth):
    nested = '{"a": ' + "[" * depth + "]" * depth + "}"  # an object, as the field declares, but too deep
    response = operator_client.post("/connect/sandbox/", {**FORM, "config__faults": nested})
    assert response.status_code == 400, "the form again, with the error on the field"
    assert "nested" in response.content.decode() and not Connection.objects.exists()


@pytest.mark.parametrize("htmx", [True, False])
def test_it_renders_the_whole_form_again_on_a_test_so_no_error_is_stale(operator_client, htmx):
    # A Save refused for a blank name and a bad page size; the fields are now fine and Test is pressed.
    saved = operator_client.post("/connect/sandbox/", {**FORM, "name": "", "config__page_size": "many"})
    assert set(saved.context["form"].errors) == {"name", "config__page_size"}
    response = operator_client.post("/connect/sandbox/test", {**FORM, "name": "Acme ERP"}, **(HTMX if htmx else {}))
    body = response.content.decode()
    assert response.context["form"].errors == {}
    assert "has-error" not in body and "Connection test passed" in body
    assert ('id="connect-form"' in body) and ("<html" in body) is not htmx


@pytest.mark.parametrize("htmx", [True, False])
def test_it_marks_the_credentials_when_a_test_is_refused_for_them(operator_client, htmx):
    form = {"credentials__api_key": "k", "config__faults": '{"auth_failure": true}'}
    response = operator_client.post("/connect/sandbox/test", form, **(HTMX if htmx else {}))
    body = response.content.decode()
    assert response.context["form"].errors == {
        "credentials__api_key": ["The system rejected these credentials: check this value."]}
    assert "UPSTREAM_AUTHENTICATION_FAILED" in body and "Check the marked credentials" in body
    assert 'hx-preserve="true"' in body  # the typed key stays in the browser when htmx swaps the form


def test_it_names_an_unknown_fault_and_lists_the_valid_ones(operator_client):
    response = operator_client.post("/connect/sandbox/", {**FORM, "config__faults": '{"auth_faliure": true}'})
    assert response.status_code == 400 and not Connection.objects.exists()
    [message] = response.context["form"].errors["config__faults"]
    assert message.startswith("Unknown fault auth_faliure; the faults are auth_failure, unreachable,")
    assert "check_server_error" in message


def test_it_speaks_to_a_person_not_to_an_api_client(operator_client):
    response = operator_client.post("/connect/sandbox/", {**FORM, "config__records": '{"spaceships": 3}'})
    body = response.content.decode()
    assert "Some values need correcting; see the marked fields." in body
    assert "send the request again" not in body and "listed in details" not in body
    assert "<code>config.records</code>" not in body  # on the field, not listed again by its API name
    assert response.context["form"].errors["config__records"][0].startswith("Entities are [")


def test_it_takes_a_json_value_of_a_declared_type_and_says_what_to_type_otherwise(operator_client):
    response = operator_client.post("/connect/sandbox/", {**FORM, "config__faults": '"auth_failure"'})
    assert response.context["form"].errors["config__faults"] == [
        'Enter a JSON object such as {"key": 1}, for example {"rate_limit_every": 3}.']
    assert "Enter a valid JSON" not in response.content.decode()
