"""The webhooks task: batches claimed in one statement, sent together, recorded in one transaction."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook

from core.audit import SYSTEM
from tests.webhooks.factories import EndpointFactory
from tests.webhooks.receiver import Reply
from webhooks import dispatch, services, transport
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.tasks import webhook_deliveries_attempt_task, webhook_delivery_attempt_task


def emit(count: int, **data) -> list[Delivery]:
    events = [services.event_emit(type="sync.completed", data={"n": n, **data}) for n in range(count)]
    return list(Delivery.objects.filter(event__in=events).order_by("pk"))


@pytest.mark.django_db
def test_it_records_each_outcome_of_a_batch_on_its_own_delivery(receiver_factory, webhook_settings, connect_spy,
                                                                django_capture_on_commit_callbacks):
    ok, failing, gone = receiver_factory(), receiver_factory(), receiver_factory()
    failing.default, gone.default = Reply(status=500, body=b"down"), Reply(status=410)
    endpoints = {
        "ok": services.endpoint_create(url=ok.url(), actor=SYSTEM),
        "failing": services.endpoint_create(url=failing.url(), actor=SYSTEM),
        "gone": services.endpoint_create(url=gone.url(), actor=SYSTEM),
        "private": (EndpointFactory(url="https://10.0.0.1/hook"), None),
        "unsigned": (EndpointFactory(url=ok.url("/unsigned"), secret="whsec_not base64!"), None),
        "disabled": (EndpointFactory(url=ok.url("/disabled")), None),
    }
    events = [services.event_emit(type="sync.completed", data={"n": n}) for n in range(2)]
    Endpoint.objects.filter(pk=endpoints["disabled"][0].pk).update(enabled=False, disabled_reason="ops")

    def delivery(name: str, event) -> Delivery:
        return Delivery.objects.get(endpoint=endpoints[name][0], event=event)

    enqueued = []
    with dispatch.deliveries_run_locally(lambda delivery_id, countdown: enqueued.append((delivery_id, countdown))):
        with django_capture_on_commit_callbacks(execute=True):
            # One message naming one delivery: the task claims the other due ones with it.
            attempted = services.deliveries_attempt(delivery_ids=[delivery("ok", events[0]).pk])

    assert attempted == 10  # two events to five endpoints; the disabled one's are not sent
    for event in events:
        sent = delivery("ok", event)
        assert (sent.status, sent.attempts, sent.last_status_code, sent.locked_until) == ("succeeded", 1, 200, None)
        assert sent.delivered_at is not None
        retried = delivery("failing", event)
        assert (retried.status, retried.attempts, retried.last_status_code) == ("pending", 1, 500)
        assert retried.next_attempt_at > timezone.now() and retried.locked_until is None
        assert retried.attempt_set.get().response_snippet == "down"
        assert delivery("gone", event).status == "failed"
        refused = delivery("private", event)
        assert refused.status == "failed" and refused.last_error.startswith("Refused before connecting")
        assert refused.attempt_set.get().remote_address == ""
        unsigned = delivery("unsigned", event)
        assert unsigned.status == "failed" and "secret is unusable" in unsigned.last_error
        skipped = delivery("disabled", event)
        assert skipped.status == "failed" and skipped.last_error == "Not sent: the endpoint is disabled (ops)."
        assert skipped.attempts == 0 and not skipped.attempt_set.exists()
    assert sorted(enqueued) == sorted((delivery("failing", e).pk, 30.0) for e in events)
    # Each request signed for its own endpoint, once per event.
    secret = endpoints["ok"][1]
    assert Counter(Webhook(secret).verify(r.body, r.headers)["id"] for r in ok.requests if r.path == "/hook") == \
        Counter(str(e.id) for e in events)
    assert not any(r.path in ("/unsigned", "/disabled") for r in ok.requests)
    assert "10.0.0.1" not in connect_spy.addresses()
    assert not Endpoint.objects.get(pk=endpoints["gone"][0].pk).enabled
    assert Endpoint.objects.get(pk=endpoints["failing"][0].pk).failing_since is not None
    assert Endpoint.objects.get(pk=endpoints["ok"][0].pk).last_success_at is not None
    numbers = Attempt.objects.filter(delivery__endpoint=endpoints["ok"][0]).values_list("number", flat=True)
    assert sorted(numbers) == [1, 1]


@pytest.mark.django_db
def test_a_task_tries_each_delivery_at_most_once_even_when_its_retry_is_due_at_once(receiver, webhook_settings):
    webhook_settings.WEBHOOK_RETRY_SCHEDULE = [0, 0, 0]
    receiver.default = Reply(status=500)
    EndpointFactory(url=receiver.url())
    deliveries = emit(3)

    assert services.deliveries_attempt(delivery_ids=[deliveries[0].pk]) == 3
    assert Counter(r.headers["webhook-id"] for r in receiver.requests) == Counter(
        str(d.event_id) for d in deliveries)
    # The retries are due now; the next message's task takes them.
    assert services.deliveries_attempt(delivery_ids=[]) == 3
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {2}


@pytest.mark.django_db
def test_it_splits_a_long_message_into_batches(receiver, webhook_settings):
    EndpointFactory(url=receiver.url())
    deliveries = emit(7)

    assert services.deliveries_attempt(delivery_ids=[d.pk for d in deliveries], batch_size=3) == 7
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert len(receiver.requests) == 7


@pytest.mark.django_db
def test_the_one_delivery_task_of_earlier_releases_still_attempts_just_its_delivery(receiver, webhook_settings):
    EndpointFactory(url=receiver.url())
    first, second = emit(2)

    webhook_delivery_attempt_task(first.pk)

    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(first.event_id)]
    assert Delivery.objects.get(pk=second.pk).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_duplicate_messages_running_at_the_same_time_send_each_delivery_once(receiver, webhook_settings):
    receiver.default = Reply(delay=0.2)  # long enough for the duplicates to overlap
    EndpointFactory(url=receiver.url())
    deliveries = emit(6)
    ids = [d.pk for d in deliveries]
    results, errors = [], []

    def worker(message: list[int]) -> None:
        try:
            results.append(services.deliveries_attempt(delivery_ids=message, batch_size=4))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    # The same message four times over (redelivery, sweeper), plus overlapping ones.
    messages = [ids, ids, ids[::-1], ids[3:], [], ids[:2]]
    threads = [threading.Thread(target=worker, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sum(results) == 6
    assert Counter(r.headers["webhook-id"] for r in receiver.requests) == Counter(str(d.event_id) for d in deliveries)
    assert set(Delivery.objects.values_list("status", "attempts")) == {("succeeded", 1)}
    assert Attempt.objects.count() == 6


@pytest.mark.django_db
def test_it_delivers_every_event_exactly_once_through_the_task_after_an_outage(webhook_settings, receiver_factory,
                                                                              clock):
    webhook_settings.WEBHOOK_RETRY_SCHEDULE = [30] * 8
    from tests.webhooks.receiver import unused_port

    port = unused_port()
    endpoint, secret = services.endpoint_create(url=f"https://localhost:{port}/hook", actor=SYSTEM)
    deliveries = emit(5)

    def round_of_messages() -> None:
        # A message per due delivery, every one twice (a redelivered duplicate), as the broker may.
        due = list(Delivery.objects.filter(status="pending", next_attempt_at__lte=timezone.now())
                   .values_list("pk", flat=True))
        for delivery_id in due:
            webhook_deliveries_attempt_task([delivery_id])
            webhook_deliveries_attempt_task([delivery_id])

    round_of_messages()  # the receiver is down
    assert set(Delivery.objects.values_list("status", "attempts")) == {("pending", 1)}
    receiver = receiver_factory(port=port)
    receiver.script(Reply(status=503), Reply(status=500))
    clock.advance(30)
    round_of_messages()
    clock.advance(30)
    round_of_messages()

    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    accepted = [Webhook(secret).verify(r.body, r.headers)["id"] for r in receiver.requests if r.status == 200]
    assert Counter(accepted) == Counter(str(d.event_id) for d in deliveries)
    assert len(receiver.requests) == 5 + 2
    assert sum(Delivery.objects.values_list("attempts", flat=True)) == 5 + len(receiver.requests)


def test_one_host_gets_one_kept_alive_connection_while_it_answers_quickly(receiver_factory, webhook_settings,
                                                                         connect_spy, monkeypatch):
    monkeypatch.setattr(transport, "LANE_SLOW_SECONDS", 30.0)
    first, second = receiver_factory(), receiver_factory()
    posts = [transport.Post(url=r.url(f"/{n}"), body=b"{}", headers={"webhook-id": str(n)})
             for n in range(6) for r in (first, second)]

    results = transport.webhook_posts(posts)

    assert [r.status_code for r in results] == [200] * 12
    assert sorted(r.path for r in first.requests) == sorted(f"/{n}" for n in range(6))
    ports = Counter(address[1] for address in connect_spy.calls)
    assert ports == {first.port: 1, second.port: 1}


def test_a_slow_host_gets_more_connections_so_its_requests_wait_together(receiver, webhook_settings, connect_spy,
                                                                        monkeypatch):
    monkeypatch.setattr(transport, "LANE_SLOW_SECONDS", 0.05)
    receiver.default = Reply(delay=1.0)
    posts = [transport.Post(url=receiver.url(f"/{n}"), body=b"{}", headers={}) for n in range(3)]

    results = transport.webhook_posts(posts)

    assert [r.status_code for r in results] == [200] * 3
    assert [r.request_headers["User-Agent"] for r in results] == [transport.USER_AGENT] * 3
    # Each request was still waiting when the next was due to start: three connections.
    assert connect_spy.addresses() == ["127.0.0.1"] * 3
