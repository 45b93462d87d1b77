import logging

import pytest
from django.utils import timezone

from config import health
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


@pytest.fixture
def health_log(caplog):
    health._last["failing"] = frozenset()  # each test starts from a healthy process
    caplog.set_level(logging.INFO)
    return caplog


def levels(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.name) for r in caplog.records if r.levelno >= logging.INFO]


def test_it_logs_a_failing_probe_once_at_warning_not_at_error_for_every_probe(client, health_log):
    for _ in range(5):
        assert client.get("/healthz").status_code == 503  # no worker heartbeat yet
    assert levels(health_log) == [("WARNING", "config.health")]
    assert "worker: no worker heartbeat yet" in health_log.records[0].getMessage()


def test_it_logs_the_recovery_once(client, health_log):
    client.get("/healthz")
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert levels(health_log) == [("WARNING", "config.health"), ("INFO", "config.health")]
    assert "ok again (worker recovered)" in health_log.records[-1].getMessage()


def test_it_logs_again_when_other_checks_fail(client, settings, health_log):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now() - timezone.timedelta(minutes=10))
    client.get("/healthz")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    client.get("/healthz")
    client.get("/healthz")
    assert levels(health_log) == [("WARNING", "config.health")] * 2
    assert "broker: " in health_log.records[-1].getMessage()
