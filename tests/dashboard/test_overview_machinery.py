"""The overview's "Workers and queues" panel, on the page and polled alone (overview_machinery)."""

from datetime import timedelta

import pytest

from syncs.models import SyncRun, WorkerHeartbeat
from tests.dashboard.factories import HTMX, connections

pytestmark = pytest.mark.django_db


def queued(connection, *, waited: timedelta, now, entity: str = "vendors") -> SyncRun:
    return SyncRun.objects.create(connection=connection, entity=entity, status=SyncRun.Status.QUEUED,
                                  ready_at=now - waited)


def panel(body: str) -> str:
    start = body.index('<section id="machinery"')
    return body[start:body.index("</section>", start)]


def test_it_shows_the_workers_their_slots_and_the_queues(admin_client, fixed_now):
    WorkerHeartbeat.objects.create(hostname="worker-a@plant", seen_at=fixed_now, concurrency=4, busy=3)
    WorkerHeartbeat.objects.create(hostname="worker-b@plant", seen_at=fixed_now - timedelta(minutes=5),
                                   concurrency=8, busy=8)
    body = panel(admin_client.get("/").content.decode())
    assert "Workers and queues" in body
    assert "3 of 4 slots in use" in body, "only the alive worker's slots count"
    assert "worker-a@plant" in body and "worker-b@plant" in body and "quiet" in body
    for queue in ("syncs", "webhooks", "celery"):
        assert f"<code>{queue}</code> 0" in body


def test_it_writes_numbers_with_thousands_separators_and_plurals(admin_client, fixed_now):
    WorkerHeartbeat.objects.create(hostname="big@plant", seen_at=fixed_now, concurrency=1200, busy=1)
    conn = connections(1)[0]
    queued(conn, waited=timedelta(seconds=30), now=fixed_now)
    body = panel(admin_client.get("/").content.decode())
    assert "1 of 1,200 slots in use" in body
    assert "1 run queued" in body and "0 runs yielded" in body
    assert "runs wait for a slot on their connection" in body


def test_it_shows_the_queue_in_red_past_the_alert(admin_client, fixed_now, settings):
    settings.SYNC_QUEUE_ALERT_SECONDS = 300
    queued(connections(1)[0], waited=timedelta(minutes=7), now=fixed_now)
    response = admin_client.get("/")
    body = panel(response.content.decode())
    assert response.context["machinery"].alert
    assert 'data-alert="on"' in body and 'class="card attention"' in body
    assert '<div class="figure bad">7 min' in body and "over 5 min 0 s" in body


def test_it_keeps_the_queue_calm_below_the_alert(admin_client, fixed_now, settings):
    settings.SYNC_QUEUE_ALERT_SECONDS = 300
    queued(connections(1)[0], waited=timedelta(minutes=4), now=fixed_now)
    body = panel(admin_client.get("/").content.decode())
    assert 'data-alert="off"' in body and "attention" not in body
    assert '<div class="figure ">4 min' in body and "alert after 5 min 0 s" in body


def test_it_polls_the_panel_alone(admin_client):
    body = panel(admin_client.get("/").content.decode())
    assert 'hx-get="/machinery"' in body and 'hx-trigger="every 5s"' in body


def test_it_answers_the_poll_with_the_panel_only(admin_client, fixed_now):
    WorkerHeartbeat.objects.create(hostname="worker-a@plant", seen_at=fixed_now, concurrency=2, busy=1)
    response = admin_client.get("/machinery", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="machinery"') and "<html" not in body
    assert "1 of 2 slots in use" in body
    assert "HX-Request" in response["Vary"]


def test_it_sends_a_browser_without_htmx_to_the_overview(admin_client):
    response = admin_client.get("/machinery")
    assert (response.status_code, response["Location"]) == (302, "/#machinery")


def test_it_includes_the_panel_in_the_overview_fragment(admin_client):
    body = admin_client.get("/", **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="figures">') and '<section id="machinery"' in body


def test_it_says_the_queue_depth_is_unknown_when_the_broker_is_down(admin_client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = admin_client.get("/machinery", **HTMX)
    assert response.status_code == 200
    assert response.content.decode().count('<span class="muted">unknown</span>') == 3


def test_it_needs_the_overview_permissions(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", "s@example.com", "pw", is_staff=True))
    assert client.get("/machinery", **HTMX).status_code == 403


def test_it_polls_in_a_bounded_number_of_queries(admin_client, django_assert_max_num_queries, fixed_now):
    conns = connections(20)
    for i, conn in enumerate(conns):
        queued(conn, waited=timedelta(seconds=i), now=fixed_now)
        WorkerHeartbeat.objects.create(hostname=f"w{i}@plant", seen_at=fixed_now, concurrency=2, busy=1)
    # session, user, then the panel's two: the heartbeats and one aggregate over the queued runs.
    with django_assert_max_num_queries(4):
        response = admin_client.get("/machinery", **HTMX)
    assert "20 runs queued" in response.content.decode() and "20 of 40 slots in use" in response.content.decode()
