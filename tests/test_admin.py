import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, ConnectLink
from core.api_keys import api_key_create
from core.audit import SYSTEM, audit_record
from core.models import ApiKey, AuditEvent
from syncs.models import Incident, Record, SeenPage, SyncRun, SyncState, WorkerHeartbeat
from tests.connect_links.factories import make_link
from tests.connections.factories import ConnectionFactory
from tests.webhooks.factories import AttemptFactory, EndpointFactory
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

OUR_APPS = {"connections", "syncs", "webhooks"}
@pytest.fixture
def one_of_each():
    """A row of every model the admin shows, each in a state its actions would change."""
    conn = ConnectionFactory(credentials={"api_key": "never-shown"})
    run = SyncRun.objects.create(connection=conn, entity="vendors", status="failed")
    SyncRun.objects.create(connection=conn, entity="assets", status="queued")
    SyncState.objects.create(connection=conn, entity="vendors", last_run=run)
    now = timezone.now()
    Record.objects.create(id="00000000-0000-0000-0000-000000000001", connection=conn, entity="vendors",
                          remote_id="V1", content_hash="x", modified_at=now)
    Incident.objects.create(connection=conn, entity="vendors", error_code="UPSTREAM_SERVER_ERROR",
                            first_seen=now, last_seen=now, last_run=run)
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=now)
    SeenPage.objects.create(marker="00000000-0000-0000-0000-0000000000aa", page=1, connection=conn, entity="vendors",
                            ids=["0" * 32], created_at=now)
    Group.objects.create(name="support")
    audit_record(actor=SYSTEM, action="test", target=conn, connection=conn)
    AttemptFactory(delivery__endpoint=EndpointFactory(connection=conn, secret="whsec_never-shown",
                                                      previous_secret="whsec_never-shown"))
    api_key_create(name="backend", actor=SYSTEM)
    make_link()
    return conn


def staff_with(django_user_model, *codenames: str):
    """A staff user who may view everything, plus the permissions named `app_label.codename`."""
    user = django_user_model.objects.create_user("support", "support@example.com", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    for label in codenames:
        app_label, codename = label.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return django_user_model.objects.get(pk=user.pk)  # a fresh object: no permission cache


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def action_run(client, model, action: str, pks=None):
    """The action, confirmed for those that ask first (the `post` field of their confirmation page)."""
    pks = list(model.objects.values_list("pk", flat=True)) if pks is None else pks
    return client.post(changelist(model), {"action": action, ACTION_CHECKBOX_NAME: pks, "index": 0, "post": "yes"})


def every_action():
    """(model, action name) for every action of every registered ModelAdmin, the site-wide
    `delete_selected` included. `_get_base_actions` is what `get_actions` filters by permission."""
    for model, model_admin in admin.site._registry.items():
        for _func, name, _description in model_admin._get_base_actions():
            yield pytest.param(model, name, id=f"{model._meta.label}.{name}")


def database_snapshot() -> dict:
    """Every row of every table but the sessions (which carry the messages)."""
    return {model._meta.label: list(model.objects.order_by("pk").values())
            for model in apps.get_models() if model is not Session}


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_it_answers_200_for_changelist_and_change_form(admin_client, one_of_each, model):
    opts = model._meta
    response = admin_client.get(changelist(model))
    assert response.status_code == 200
    obj = model.objects.first()
    assert obj is not None, f"no {opts.label} row to open"
    response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert response.status_code == 200
    assert b"never-shown" not in response.content


@pytest.mark.parametrize(("model", "action"), list(every_action()))
def test_it_refuses_every_action_to_a_staff_user_who_may_only_view(client, django_user_model, one_of_each,
                                                                  model, action):
    client.force_login(staff_with(django_user_model))
    before = database_snapshot()
    response = action_run(client, model, action)
    assert database_snapshot() == before
    if response.status_code == 302:  # the model has actions this user may run, but not this one
        assert [str(m) for m in get_messages(response.wsgi_request)] == ["No action selected."]
    else:  # no action at all for this user: the POST is only a look at the list
        assert response.status_code == 200 and response.context["action_form"] is None


@pytest.mark.parametrize(("model", "action"), [p for p in every_action() if p.values[0]._meta.app_label in OUR_APPS])
def test_it_declares_the_permission_every_action_needs(model, action):
    func = admin.site._registry[model].get_action(action)[0]
    assert getattr(func, "allowed_permissions", None), f"{model._meta.label}.{action} declares no permission"


@pytest.mark.parametrize(("model", "action", "permission"), [
    (Endpoint, "disable_endpoints", "webhooks.change_endpoint"),
    (Delivery, "resend_deliveries", "webhooks.change_endpoint"),
    (ApiKey, "revoke_keys", "core.change_apikey"),
    (Connection, "pause", "connections.manage_connection"),
    (Connection, "disconnect", "connections.manage_connection"),
    (Connection, "sync_now", "connections.trigger_sync"),
    (SyncRun, "cancel_runs", "connections.trigger_sync"),
    (SyncRun, "retry_runs", "connections.trigger_sync"),
    (Incident, "acknowledge", "connections.manage_connection"),
    (Incident, "resolve", "connections.manage_connection"),
    (ConnectLink, "revoke", "connections.manage_connection"),
])
def test_it_runs_an_action_for_a_user_with_its_permission(client, django_user_model, one_of_each,
                                                          model, action, permission):
    client.force_login(staff_with(django_user_model, permission))
    response = action_run(client, model, action)
    assert response.status_code == 302
    assert "No action selected." not in [str(m) for m in get_messages(response.wsgi_request)]
    assert AuditEvent.objects.filter(actor="support", source=AuditEvent.Source.ADMIN).exists()


def test_it_queues_a_sync_for_a_user_who_may_trigger_syncs(client, django_user_model, one_of_each):
    client.force_login(staff_with(django_user_model, "connections.trigger_sync"))
    before = SyncRun.objects.count()
    assert action_run(client, Connection, "sync_now").status_code == 302
    assert SyncRun.objects.count() > before


def test_it_masks_credentials_on_the_connection_form(admin_client, one_of_each):
    url = reverse("admin:connections_connection_change", args=[one_of_each.pk])
    body = admin_client.get(url).content.decode()
    assert "api_key=••••••" in body and "never-shown" not in body


def test_it_shows_records_but_lets_no_one_change_them_outside_a_sync(admin_client, one_of_each):
    record = Record.objects.get(remote_id="V1")
    url = reverse("admin:syncs_record_change", args=[record.pk])
    response = admin_client.post(url, {"remote_id": "EDITED", "entity": "vendors", "data": "{}", "raw": "{}"})
    assert response.status_code == 403
    assert Record.objects.get(pk=record.pk).remote_id == "V1"
    assert admin_client.post(reverse("admin:syncs_record_delete", args=[record.pk]), {"post": "yes"}).status_code == 403


@pytest.mark.parametrize(("model", "edit"), [
    (SyncRun, {"status": "succeeded", "entity": "vendors", "mode": "full", "trigger": "api"}),
    (SyncState, {"entity": "assets", "consecutive_failures": "0", "record_count": "9"}),
    (Incident, {"status": "resolved", "entity": "vendors", "error_code": "X", "occurrences": "1"}),
])
def test_it_lets_no_one_edit_or_delete_engine_data_but_through_actions(admin_client, one_of_each, model, edit):
    obj = model.objects.first()
    before = database_snapshot()
    opts = model._meta
    assert admin_client.post(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
                             edit).status_code == 403
    assert admin_client.post(reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk]),
                             {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 403
    assert database_snapshot() == before


def test_it_keeps_the_change_feed_counter_out_of_the_sync_state_form(admin_client, one_of_each):
    state = SyncState.objects.get(connection=one_of_each, entity="vendors")
    SyncState.objects.filter(pk=state.pk).update(change_seq=41)
    form = admin_client.get(reverse("admin:syncs_syncstate_change", args=[state.pk])).context["adminform"].form
    assert "change_seq" not in form.fields and "change_at" not in form.fields


@pytest.mark.parametrize(("action", "status"), [("acknowledge", "acknowledged"), ("resolve", "resolved")])
def test_it_records_one_audit_event_for_incidents_of_one_connection(client, django_user_model, one_of_each,
                                                                   action, status):
    now = timezone.now()
    Incident.objects.create(connection=one_of_each, entity="assets", error_code="UPSTREAM_SERVER_ERROR",
                            first_seen=now, last_seen=now)
    client.force_login(staff_with(django_user_model, "connections.manage_connection"))
    assert action_run(client, Incident, action).status_code == 302
    assert set(Incident.objects.values_list("status", flat=True)) == {status}
    assert AuditEvent.objects.filter(action=f"incident.{status}").count() == 1


def test_it_revokes_a_connect_link_through_the_service_and_never_shows_its_hash(admin_client, one_of_each):
    link = ConnectLink.objects.get()
    body = admin_client.get(reverse("admin:connections_connectlink_change", args=[link.pk])).content.decode()
    assert link.token_hash not in body
    assert action_run(admin_client, ConnectLink, "revoke").status_code == 302
    assert ConnectLink.objects.get().revoked_at is not None
    assert AuditEvent.objects.filter(action="connect_link.revoked", source=AuditEvent.Source.ADMIN).count() == 1
