import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from connections.api_keys import api_key_create
from connections.audit import SYSTEM, audit_record
from syncs.models import Incident, Record, SyncRun, SyncState, WorkerHeartbeat
from tests.connections.factories import ConnectionFactory
from tests.webhooks.factories import AttemptFactory, EndpointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_of_each():
    conn = ConnectionFactory(credentials={"api_key": "never-shown"})
    run = SyncRun.objects.create(connection=conn, entity="vendors", status="succeeded")
    SyncState.objects.create(connection=conn, entity="vendors", last_run=run)
    now = timezone.now()
    Record.objects.create(id="00000000-0000-0000-0000-000000000001", connection=conn, entity="vendors",
                          remote_id="V1", content_hash="x", modified_at=now)
    Incident.objects.create(connection=conn, entity="vendors", error_code="UPSTREAM_SERVER_ERROR",
                            first_seen=now, last_seen=now, last_run=run)
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=now)
    Group.objects.create(name="support")
    audit_record(actor=SYSTEM, action="test", target=conn, connection=conn)
    AttemptFactory(delivery__endpoint=EndpointFactory(connection=conn, secret="whsec_never-shown",
                                                      previous_secret="whsec_never-shown"))
    api_key_create(name="backend", actor=SYSTEM)
    return conn


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_it_answers_200_for_changelist_and_change_form(admin_client, one_of_each, model):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    response = admin_client.get(changelist)
    assert response.status_code == 200
    obj = model.objects.first()
    assert obj is not None, f"no {opts.label} row to open"
    response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert response.status_code == 200
    assert b"never-shown" not in response.content


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


def test_it_keeps_the_change_feed_counter_out_of_the_sync_state_form(admin_client, one_of_each):
    state = SyncState.objects.get(connection=one_of_each, entity="vendors")
    SyncState.objects.filter(pk=state.pk).update(change_seq=41)
    form = admin_client.get(reverse("admin:syncs_syncstate_change", args=[state.pk])).context["adminform"].form
    assert "change_seq" not in form.fields and "change_at" not in form.fields
