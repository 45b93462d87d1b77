"""Support's actions in the Django admin go through the services, are audited and say what happened."""

import pytest
from django.contrib.auth.models import Permission

from connections.models import Connection
from core.models import AuditEvent
from syncs.models import Incident, SyncRun
from tests.dashboard.factories import idle_connection, incidents, runs
from tests.syncs.factories import queued_run, sandbox_connection

pytestmark = pytest.mark.django_db


def act(client, model: str, action: str, pks) -> str:
    response = client.post(f"/admin/{model}/", {"action": action, "_selected_action": [str(pk) for pk in pks]},
                           follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_it_syncs_now_and_full_resyncs_from_the_connection_list(admin_client):
    connection = idle_connection(entities=["vendors", "assets"])
    body = act(admin_client, "connections/connection", "sync_now", [connection.pk])
    assert "Runs queued: 2." in body
    assert SyncRun.objects.filter(connection=connection, status="queued", mode="incremental").count() == 2
    event = AuditEvent.objects.get(action="sync.incremental_requested")
    assert (event.actor, event.source) == ("root", "admin") and event.request_id.startswith("req_")


def test_it_reports_catalogued_errors(admin_client):
    connection = idle_connection()
    admin_client.post("/admin/connections/connection/", {"action": "sync_now", "_selected_action": [connection.pk]})
    body = act(admin_client, "connections/connection", "full_resync", [connection.pk])
    assert "SYNC_IN_PROGRESS" in body and "Wait for the active run to finish" in body


def test_it_pauses_and_resumes(admin_client):
    connection = sandbox_connection()
    assert "Paused: 1." in act(admin_client, "connections/connection", "pause", [connection.pk])
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED
    assert not SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE_STATUSES).exists()
    assert "Resumed: 1." in act(admin_client, "connections/connection", "resume", [connection.pk])
    assert AuditEvent.objects.filter(action="connection.resumed", source="admin").exists()


def test_it_cancels_and_retries_runs(admin_client):
    connection = sandbox_connection()
    run = queued_run(connection, "vendors")
    done = runs(connection, 1, status="succeeded", entity="assets")[0]
    body = act(admin_client, "syncs/syncrun", "cancel_runs", [run.pk, done.pk])
    assert "Cancel requested: 1." in body and "1 run(s) had already finished" in body
    run.refresh_from_db()
    assert run.status == SyncRun.Status.CANCELLED
    assert "Retries queued: 1." in act(admin_client, "syncs/syncrun", "retry_runs", [run.pk])
    assert SyncRun.objects.get(connection=connection, entity="vendors", status="queued").trigger == "retry"


def test_it_acknowledges_and_resolves_incidents(admin_client):
    incident = incidents([idle_connection()])[0]
    assert "Acknowledged: 1." in act(admin_client, "syncs/incident", "acknowledge", [incident.pk])
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACKNOWLEDGED and incident.acknowledged_by == "root"
    assert "Resolved: 1." in act(admin_client, "syncs/incident", "resolve", [incident.pk])
    assert AuditEvent.objects.filter(action="incident.resolved", source="admin").exists()


def test_it_offers_actions_only_with_the_permission(client, django_user_model):
    idle_connection()  # the admin shows its action bar only over rows
    staff = django_user_model.objects.create_user("support", password="pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_connection", "view_syncrun",
                                                                        "view_incident"]))
    client.force_login(staff)
    body = client.get("/admin/connections/connection/").content.decode()
    assert "sync_now" not in body and 'value="pause"' not in body
    staff.user_permissions.add(Permission.objects.get(codename="trigger_sync"))
    client.force_login(django_user_model.objects.get(pk=staff.pk))
    body = client.get("/admin/connections/connection/").content.decode()
    assert "sync_now" in body and 'value="pause"' not in body
