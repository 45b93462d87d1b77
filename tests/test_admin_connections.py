"""The admin's connection and customer forms: every write goes through the services, checked and audited."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from connections.connectors.registry import connector_class
from connections.connectors.sandbox import SandboxConnector
from connections.models import Connection, Customer
from core.models import AuditEvent
from tests.connections.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection():
    return ConnectionFactory(entities=["vendors", "assets"], sync_interval_minutes=60, history_days=90)


def change_url(connection) -> str:
    return reverse("admin:connections_connection_change", args=[connection.pk])


def form_data(connection, **overrides) -> dict:
    """What the browser posts back: the connector's config fields as `config__<name>` with their
    stored values (or defaults); the `initial-` copy is how Django tells a JSON field changed."""
    metadata = json.dumps(connection.metadata)
    data = {"name": connection.name, "entities": connection.entities,
            "sync_interval_minutes": connection.sync_interval_minutes, "history_days": connection.history_days,
            "metadata": metadata, "initial-metadata": metadata}
    for spec in connector_class(connection.connector).config_fields:
        value = connection.config.get(spec.name, spec.default)
        data[f"config__{spec.name}"] = json.dumps(value) if spec.kind == "json" else ("" if value is None else value)
    return {**data, **overrides}


def stored(connection) -> dict:
    return Connection.objects.filter(pk=connection.pk).values().get()


@pytest.mark.parametrize(("edit", "field"), [
    ({"entities": ["vendors", "unicorns"]}, "entities"),
    ({"sync_interval_minutes": 1}, "sync_interval_minutes"),
    ({"sync_interval_minutes": 0}, "sync_interval_minutes"),
    ({"history_days": 0}, "history_days"),
    ({"config__records": json.dumps({"unicorns": 5})}, "config__records"),  # the connector's own check
    ({"config__page_size": 0}, "config__page_size"),  # the declared bounds
    ({"config__faults": "[1, 2]"}, "config__faults"),  # the declared JSON type
    ({"config__anchor": "yesterday"}, "config__anchor"),
])
def test_it_refuses_invalid_settings_on_the_form_and_saves_nothing(admin_client, connection, edit, field):
    before = stored(connection)
    response = admin_client.post(change_url(connection), form_data(connection, **edit))
    assert response.status_code == 200  # the form again, not the redirect of a save
    form = response.context["adminform"].form
    assert form.errors.get(field or "__all__"), form.errors
    assert stored(connection) == before
    assert not AuditEvent.objects.filter(action="connection.updated").exists()


def test_it_refuses_entities_the_connector_does_not_support(admin_client, connection, monkeypatch):
    monkeypatch.setattr(SandboxConnector, "entities", ("vendors", "assets"))
    response = admin_client.post(change_url(connection), form_data(connection, entities=["vendors", "work_orders"]))
    assert "Unsupported entities: work_orders" in str(response.context["adminform"].form.errors["entities"])
    assert Connection.objects.get(pk=connection.pk).entities == ["vendors", "assets"]


def test_it_saves_a_valid_edit_through_the_service_and_audits_it(admin_client, admin_user, connection):
    response = admin_client.post(change_url(connection), form_data(
        connection, name="Plant 2", entities=["assets", "vendors", "work_orders"], sync_interval_minutes=15,
        history_days=30, metadata=json.dumps({"region": "eu"})))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    connection.refresh_from_db()
    assert (connection.name, connection.sync_interval_minutes, connection.history_days) == ("Plant 2", 15, 30)
    assert connection.entities == ["vendors", "assets", "work_orders"]  # in the connector's order
    assert connection.metadata == {"region": "eu"}
    event = AuditEvent.objects.get(action="connection.updated")
    assert (event.actor, event.source, event.target_id) == (admin_user.username, AuditEvent.Source.ADMIN,
                                                            str(connection.pk))
    assert event.details["sync_interval_minutes"] == 15 and "name" in event.details


def test_it_keeps_connector_customer_and_status_out_of_reach(admin_client, connection):
    before = stored(connection)
    response = admin_client.post(change_url(connection), form_data(
        connection, connector="no_such_system", customer="999", status="active", status_reason="edited"))
    assert response.status_code == 302
    assert stored(connection)["connector"] == "sandbox"
    assert {k: v for k, v in stored(connection).items() if k != "updated_at"} == \
        {k: v for k, v in before.items() if k != "updated_at"}


def test_it_refuses_an_edit_of_a_disconnected_connection_on_the_form(admin_client, connection):
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DISCONNECTED)
    response = admin_client.post(change_url(connection), form_data(connection, name="Back again"))
    assert response.status_code == 200
    assert "CONNECTION_NOT_ACTIVE" in str(response.context["adminform"].form.non_field_errors())
    assert Connection.objects.get(pk=connection.pk).name != "Back again"


def test_it_adds_no_connection_here_and_points_to_the_dashboard(admin_client):
    add = reverse("admin:connections_connection_add")
    response = admin_client.post(add, {"name": "x", "connector": "no_such_system", "entities": ["unicorns"],
                                       "sync_interval_minutes": 1, "history_days": 0})
    assert response.status_code == 403
    assert not Connection.objects.exists()
    body = admin_client.get(reverse("admin:connections_connection_changelist")).content.decode()
    assert reverse("dashboard:connect") in body and add not in body


def test_it_deletes_a_connection_through_the_service_with_an_audit_entry(admin_client, admin_user, connection):
    url = reverse("admin:connections_connection_delete", args=[connection.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Connection.objects.filter(pk=connection.pk).exists()
    event = AuditEvent.objects.get(action="connection.deleted")
    assert (event.actor, event.source) == (admin_user.username, AuditEvent.Source.ADMIN)


def test_it_shows_customers_but_leaves_their_writes_to_the_services(admin_client, connection):
    customer = connection.customer
    url = reverse("admin:connections_customer_change", args=[customer.pk])
    assert admin_client.get(url).status_code == 200
    edit = {"name": "Renamed", "external_id": "x", "metadata": json.dumps({"a": 1})}
    assert admin_client.post(url, edit).status_code == 403
    assert admin_client.post(reverse("admin:connections_customer_add"), edit).status_code == 403
    assert Customer.objects.get(pk=customer.pk).name == customer.name and Customer.objects.count() == 1


def test_it_keeps_the_audit_log_out_of_reach_of_deletion(admin_client, connection):
    admin_client.post(change_url(connection), form_data(connection, name="Audited"))
    event = AuditEvent.objects.get()
    url = reverse("admin:core_auditevent_delete", args=[event.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_shows_the_connectors_config_fields_with_the_stored_values(admin_client, connection):
    form = admin_client.get(change_url(connection)).context["adminform"].form
    assert form["config__seed"].value() == 7 and form["config__records"].value() == "20"
    assert form["config__page_size"].value() == 200  # not stored: the connector's default
    assert "config" not in form.fields and "credentials__api_key" not in form.fields
    assert "status" not in form.fields


def test_it_saves_a_config_edit_through_the_service_and_audits_it(admin_client, admin_user, connection):
    response = admin_client.post(change_url(connection), form_data(
        connection, config__seed=9, config__faults=json.dumps({"rate_limit_every": 3})))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    connection.refresh_from_db()
    assert connection.config["seed"] == 9 and connection.config["faults"] == {"rate_limit_every": 3}
    assert connection.config["records"] == 20  # the fields left alone stay as stored
    event = AuditEvent.objects.get(action="connection.updated")
    assert (event.actor, event.source, event.details["config"]) == (admin_user.username, AuditEvent.Source.ADMIN,
                                                                    "changed")


def test_it_puts_the_connectors_own_error_beside_its_field(admin_client, connection):
    response = admin_client.post(change_url(connection), form_data(connection, config__records=json.dumps(-1)))
    errors = response.context["adminform"].form.errors
    assert "a number of records (0 to 1e9)" in str(errors["config__records"])
    assert Connection.objects.get(pk=connection.pk).config == {"seed": 7, "records": 20}


def test_it_ignores_raw_config_json_posted_to_the_form(admin_client, connection):
    response = admin_client.post(change_url(connection), form_data(
        connection, name="Renamed", config=json.dumps({"seed": 99, "sneaky": True})))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Renamed" and connection.config == {"seed": 7, "records": 20}


def test_it_refuses_to_clear_a_stored_value_the_service_would_keep(admin_client, connection):
    anchor = "2026-11-01T00:00:00+00:00"
    Connection.objects.filter(pk=connection.pk).update(config={**connection.config, "anchor": anchor})
    connection.refresh_from_db()
    response = admin_client.post(change_url(connection), form_data(connection, config__anchor=""))
    assert response.status_code == 200
    assert "Cannot be cleared here" in str(response.context["adminform"].form.errors["config__anchor"])
    assert not AuditEvent.objects.filter(action="connection.updated").exists()


def test_it_resets_a_cleared_field_to_the_connectors_default(admin_client, connection):
    response = admin_client.post(change_url(connection), form_data(connection, config__seed=""))
    assert response.status_code == 302
    assert Connection.objects.get(pk=connection.pk).config["seed"] == 1


def test_it_shows_the_config_read_only_to_a_user_who_may_only_view(client, django_user_model, connection):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_connection"))
    client.force_login(user)
    response = client.get(change_url(connection))
    body = response.content.decode()
    assert response.status_code == 200 and 'name="config__seed"' not in body
    assert "records=20, seed=7" in body and "secret" not in body
    assert client.post(change_url(connection), form_data(connection, config__seed=3)).status_code == 403
    assert Connection.objects.get(pk=connection.pk).config["seed"] == 7


def disconnect(client, *connections, confirmed: bool = True):
    data = {"action": "disconnect", "_selected_action": [c.pk for c in connections]}
    return client.post(reverse("admin:connections_connection_changelist"),
                       {**data, "post": "yes"} if confirmed else data, follow=True)


def test_it_asks_before_disconnecting(admin_client, connection):
    response = disconnect(admin_client, connection, confirmed=False)
    body = response.content.decode()
    assert response.status_code == 200 and "Yes, disconnect" in body and str(connection) in body
    assert 'name="post" value="yes"' in body
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.ACTIVE
    assert not AuditEvent.objects.exists()


def test_it_disconnects_through_the_service_with_an_audit_entry(admin_client, admin_user, connection):
    Connection.objects.filter(pk=connection.pk).update(token_hash="h")
    assert "Disconnected: 1." in disconnect(admin_client, connection).content.decode()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISCONNECTED and connection.token_hash is None
    event = AuditEvent.objects.get(action="connection.disconnected")
    assert (event.actor, event.source, event.target_id) == (admin_user.username, AuditEvent.Source.ADMIN,
                                                            str(connection.pk))


def test_it_leaves_an_already_disconnected_connection_alone(admin_client, connection):
    disconnect(admin_client, connection)
    at = Connection.objects.get(pk=connection.pk).disconnected_at
    assert "Disconnected: " not in disconnect(admin_client, connection).content.decode()
    assert Connection.objects.get(pk=connection.pk).disconnected_at == at
    assert AuditEvent.objects.filter(action="connection.disconnected").count() == 1


def test_it_refuses_to_disconnect_without_the_manage_permission(client, django_user_model, connection):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_connection", "change_connection",
                                                                       "trigger_sync"]))
    client.force_login(user)
    disconnect(client, connection)
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.ACTIVE
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(("codenames", "allowed"), [
    (["view_connection", "change_connection", "delete_connection"], False),
    (["view_connection", "change_connection", "delete_connection", "manage_connection"], True),
])
def test_it_takes_the_manage_permission_to_edit_or_delete(client, django_user_model, connection, codenames, allowed):
    user = django_user_model.objects.create_user("support", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="connections",
                                                         codename__in=codenames))
    client.force_login(user)
    response = client.post(change_url(connection), form_data(connection, name="Edited"))
    assert response.status_code == (302 if allowed else 403)
    assert (Connection.objects.get(pk=connection.pk).name == "Edited") is allowed
    delete = client.post(reverse("admin:connections_connection_delete", args=[connection.pk]), {"post": "yes"})
    assert delete.status_code == (302 if allowed else 403)
    assert Connection.objects.filter(pk=connection.pk).exists() is not allowed


@pytest.fixture
def tryton():
    return ConnectionFactory(connector="tryton", entities=["vendors"], config={
        "url": "https://erp.example.com/", "database": "prod", "requests_per_minute": 600},
        credentials={"username": "sync", "password": "never-shown"})


def test_it_builds_the_form_from_each_connectors_own_fields(admin_client, tryton):
    response = admin_client.get(change_url(tryton))
    form = response.context["adminform"].form
    assert [name for name in form.fields if name.startswith("config__")] == [
        "config__url", "config__database", "config__requests_per_minute"]
    assert form["config__url"].value() == "https://erp.example.com/"
    assert "never-shown" not in response.content.decode()


@pytest.mark.parametrize(("edit", "field"), [
    ({"config__url": "not a url"}, "config__url"),
    ({"config__database": ""}, "config__database"),  # required, no default
    ({"config__requests_per_minute": 0}, "config__requests_per_minute"),
])
def test_it_refuses_what_the_connectors_fields_refuse(admin_client, tryton, edit, field):
    response = admin_client.post(change_url(tryton), form_data(tryton, **edit))
    assert response.status_code == 200 and response.context["adminform"].form.errors[field]
    assert Connection.objects.get(pk=tryton.pk).config["database"] == "prod"


def test_it_saves_another_connectors_config_without_asking_upstream(admin_client, tryton):
    # The credentials are unchanged, so the service checks nothing upstream (there is no server here).
    response = admin_client.post(change_url(tryton), form_data(tryton, config__database="staging"))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert Connection.objects.get(pk=tryton.pk).config == {
        "url": "https://erp.example.com/", "database": "staging", "requests_per_minute": 600}
    assert Connection.objects.get(pk=tryton.pk).credentials == {"username": "sync", "password": "never-shown"}
