import pytest
from django.utils import timezone

from syncs.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_it_answers_ok_when_database_broker_and_worker_are_up(client):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["worker"]["hostname"] == "w1"


def test_it_answers_503_when_the_broker_is_down(client, settings):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert response.json()["checks"]["database"]["ok"] is True


def test_it_answers_503_without_a_fresh_worker_heartbeat(client):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now() - timezone.timedelta(minutes=10))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "too old" in response.json()["checks"]["worker"]["error"]


def test_it_needs_no_login(client):
    assert client.get("/healthz").status_code in (200, 503)
