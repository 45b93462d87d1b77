import logging

import pytest
from django.utils import timezone

from config import health
from syncs.models import SyncRun, WorkerHeartbeat
from tests.syncs.factories import bare_connection, run_row

pytestmark = pytest.mark.django_db

TOKEN = "health-token-for-the-monitor"


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", "ops@example.com", "pw", is_staff=True))
    return client


def test_it_answers_ok_when_database_broker_and_worker_are_up(staff_client):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    response = staff_client.get("/healthz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["worker"]["hostname"] == "w1"


def test_it_answers_503_when_the_broker_is_down(staff_client, settings):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert response.json()["checks"]["database"]["ok"] is True


def test_it_answers_503_without_a_fresh_worker_heartbeat(staff_client):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now() - timezone.timedelta(minutes=10))
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    assert "too old" in response.json()["checks"]["worker"]["error"]


def queued_for(seconds: float, now) -> SyncRun:
    return run_row(bare_connection(), "vendors", ready_at=now - timezone.timedelta(seconds=seconds))


def test_it_answers_503_when_a_ready_run_waited_past_the_queue_alert(staff_client, settings, fixed_now):
    settings.SYNC_QUEUE_ALERT_SECONDS = 300
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=fixed_now)
    queued_for(301, fixed_now)
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    queue = response.json()["checks"]["queue"]
    assert (queue["ok"], queue["alert"], queue["queued"]) == (False, True, 1)
    assert queue["oldest_ready_seconds"] >= 301
    assert "over SYNC_QUEUE_ALERT_SECONDS (300 s)" in queue["error"]
    assert response.json()["checks"]["worker"]["ok"] is True


def test_it_answers_ok_while_the_oldest_ready_run_waited_less(staff_client, settings, fixed_now):
    settings.SYNC_QUEUE_ALERT_SECONDS = 300
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=fixed_now)
    queued_for(200, fixed_now)
    response = staff_client.get("/healthz")
    assert response.status_code == 200, response.json()
    queue = response.json()["checks"]["queue"]
    assert queue["ok"] is True and 200 <= queue["oldest_ready_seconds"] < 300 and "error" not in queue


def test_it_shows_the_workers_slots_and_queue_depths_in_the_details(staff_client, fixed_now):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=fixed_now)
    WorkerHeartbeat.objects.create(hostname="pool-1@plant", seen_at=fixed_now, concurrency=4, busy=1)
    run_row(bare_connection(), "vendors", yields=1, ready_at=fixed_now)
    queue = staff_client.get("/healthz").json()["checks"]["queue"]
    assert [(w["hostname"], w["alive"], w["concurrency"], w["busy"]) for w in queue["workers"]] == [
        ("pool-1@plant", True, 4, 1)]
    assert (queue["slots"], queue["busy"], queue["yielded"], queue["waiting_for_slot"]) == (4, 1, 1, 0)
    assert set(queue["queue_depths"]) == {"syncs", "webhooks", "celery"}


def test_it_hides_the_queue_details_from_an_anonymous_caller(client, settings, fixed_now):
    settings.SYNC_QUEUE_ALERT_SECONDS = 300
    WorkerHeartbeat.objects.create(hostname="pool-1@plant", seen_at=fixed_now, concurrency=4, busy=1)
    queued_for(900, fixed_now)
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
    assert b"pool-1" not in response.content


def test_it_still_needs_the_beat_tasks_heartbeat_when_a_worker_reports_itself(staff_client):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now() - timezone.timedelta(minutes=10))
    WorkerHeartbeat.objects.create(hostname="pool-1@plant", seen_at=timezone.now(), concurrency=2, busy=0)
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["hostname"] == "w1"
    assert response.json()["checks"]["queue"]["workers"][0]["alive"] is True


def test_it_needs_no_login(client):
    assert client.get("/healthz").status_code in (200, 503)


def test_it_tells_an_anonymous_caller_only_ok(client):
    WorkerHeartbeat.objects.create(hostname="worker-host-7", seen_at=timezone.now())
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_it_tells_an_anonymous_caller_only_unavailable(client):
    WorkerHeartbeat.objects.create(hostname="worker-host-7", seen_at=timezone.now() - timezone.timedelta(minutes=10))
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
    assert b"worker-host-7" not in response.content and b"sqlite" not in response.content


def test_it_hides_the_details_from_a_logged_in_user_who_is_not_staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("viewer", "viewer@example.com", "pw"))
    assert client.get("/healthz").json() == {"status": "unavailable"}


@pytest.mark.parametrize("how", ["header", "query"])
def test_it_shows_the_details_to_a_monitor_with_the_health_token(client, settings, how):
    settings.HEALTH_TOKEN = TOKEN
    WorkerHeartbeat.objects.create(hostname="worker-host-7", seen_at=timezone.now())
    if how == "header":
        response = client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
    else:
        response = client.get("/healthz", {"token": TOKEN})
    assert response.status_code == 200
    assert response.json()["checks"]["worker"]["hostname"] == "worker-host-7"
    assert response.json()["checks"]["database"]["vendor"]


@pytest.mark.parametrize("token_setting, presented", [(TOKEN, "Bearer wrong"), (TOKEN, "Bearer "), (TOKEN, TOKEN),
                                                      ("", "Bearer ")],
                         ids=["wrong", "empty", "not-bearer", "no-token-configured"])
def test_it_hides_the_details_without_the_right_token(client, settings, token_setting, presented):
    settings.HEALTH_TOKEN = token_setting
    response = client.get("/healthz", headers={"Authorization": presented})
    assert set(response.json()) == {"status"}


def test_it_is_never_cached_since_the_answer_depends_on_who_asks(client):
    assert "no-store" in client.get("/healthz")["Cache-Control"]


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
