"""Engine data in the Django admin: shown, never added, edited or deleted there, even by a
superuser; the engine and the services are its only writers (docs/architecture.md, "The Django admin")."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse

from core.models import AuditEvent
from syncs.models import Incident, Record, SeenPage, SyncRun, SyncState, WorkerHeartbeat
from tests.test_admin import changelist, database_snapshot, one_of_each  # noqa: F401 (its fixture, reused)
from webhooks.models import Attempt, Delivery, Event

pytestmark = pytest.mark.django_db

ENGINE_DATA = [Record, SyncRun, SyncState, Incident, WorkerHeartbeat, SeenPage, Event, Delivery, Attempt, AuditEvent]


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def fields_posted(obj) -> dict:
    """Every concrete field of the row as a form would post it, the primary key changed where it can be."""
    data = {f.attname: "" if getattr(obj, f.attname) is None else str(getattr(obj, f.attname))
            for f in obj._meta.concrete_fields}
    return {**data, "hostname": "faked", "seen_at": "2099-01-01 00:00:00", "status": "succeeded"}


def test_it_registers_every_engine_model_read_only():
    for model in ENGINE_DATA:
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(None), model
        assert not model_admin.has_change_permission(None), model
        assert not model_admin.has_delete_permission(None), model


@pytest.mark.usefixtures("one_of_each")
@pytest.mark.parametrize("model", ENGINE_DATA, ids=lambda m: m._meta.label)
def test_it_refuses_add_change_and_delete_even_to_a_superuser(admin_client, model):
    obj = model.objects.first()
    before = database_snapshot()
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.post(admin_url(model, "add"), fields_posted(obj)).status_code == 403
    assert admin_client.post(admin_url(model, "change", obj.pk), fields_posted(obj)).status_code == 403
    assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert database_snapshot() == before


@pytest.mark.usefixtures("one_of_each")
@pytest.mark.parametrize("model", ENGINE_DATA, ids=lambda m: m._meta.label)
def test_it_offers_no_add_button_and_no_bulk_delete(admin_client, model):
    response = admin_client.get(changelist(model))
    assert response.status_code == 200
    assert admin_url(model, "add") not in response.content.decode()
    action_form = response.context["action_form"]
    actions = [name for name, _ in action_form.fields["action"].choices] if action_form else []
    assert "delete_selected" not in actions
    before = database_snapshot()
    pks = list(model.objects.values_list("pk", flat=True))
    admin_client.post(changelist(model), {"action": "delete_selected", "_selected_action": pks, "post": "yes"})
    assert database_snapshot() == before


@pytest.mark.usefixtures("one_of_each")
@pytest.mark.parametrize("model", ENGINE_DATA, ids=lambda m: m._meta.label)
def test_it_shows_the_row_as_a_page_without_a_form_to_save(admin_client, model):
    response = admin_client.get(admin_url(model, "change", model.objects.first().pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="_save"' not in body and "never-shown" not in body


def test_it_cannot_fake_a_heartbeat_that_makes_healthz_call_a_dead_worker_healthy(admin_client, fixed_now):
    WorkerHeartbeat.objects.create(hostname="dead", seen_at=fixed_now - timedelta(hours=1))
    faked = {"hostname": "dead", "seen_at_0": f"{fixed_now:%Y-%m-%d}", "seen_at_1": f"{fixed_now:%H:%M:%S}"}
    assert admin_client.post(admin_url(WorkerHeartbeat, "change", "dead"), faked).status_code == 403
    assert admin_client.post(admin_url(WorkerHeartbeat, "add"), {**faked, "hostname": "ghost"}).status_code == 403
    beats = list(WorkerHeartbeat.objects.values_list("hostname", "seen_at"))
    assert beats == [("dead", fixed_now - timedelta(hours=1))]
    assert admin_client.get("/healthz").json()["checks"]["worker"]["ok"] is False


def test_it_shows_whether_a_worker_counts_as_alive(admin_client, fixed_now, settings):
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = 60
    WorkerHeartbeat.objects.create(hostname="fresh", seen_at=fixed_now - timedelta(seconds=30), concurrency=4, busy=1)
    WorkerHeartbeat.objects.create(hostname="stale", seen_at=fixed_now - timedelta(seconds=90))
    model_admin = admin.site._registry[WorkerHeartbeat]
    alive = {beat.hostname: model_admin.alive(beat) for beat in WorkerHeartbeat.objects.all()}
    assert alive == {"fresh": True, "stale": False}
    assert admin_client.get(changelist(WorkerHeartbeat)).status_code == 200


@pytest.mark.usefixtures("one_of_each")
def test_it_shows_how_many_ids_a_seen_page_holds_not_the_ids(admin_client):
    page = SeenPage.objects.get()
    body = admin_client.get(admin_url(SeenPage, "change", page.pk)).content.decode()
    assert "0" * 32 not in body
    assert admin.site._registry[SeenPage].id_count(page) == 1


@pytest.mark.usefixtures("one_of_each")
@pytest.mark.parametrize("model", ENGINE_DATA, ids=lambda m: m._meta.label)
def test_it_answers_a_search_that_is_no_id_with_an_empty_list(admin_client, model):
    response = admin_client.get(changelist(model), {"q": "not-a-uuid"})
    assert response.status_code == 200 and response.context["cl"].result_count == 0
