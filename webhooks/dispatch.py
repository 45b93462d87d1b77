"""Where a due delivery goes to be attempted: the `webhooks` Celery queue.

Services call `deliveries_enqueue` only from `transaction.on_commit`, so a worker never sees
a delivery before its row is committed. One message carries the ids of one commit, at most
BATCH_SIZE of them (a sweep or a replay of thousands becomes several messages, which several
workers share); the task attempts them together and also claims other due deliveries while it
is at it (`services.deliveries_attempt`). `deliveries_run_locally` redirects the calls in the
current context to a function, called once per delivery id (tests; the benchmark hands them to
its own worker processes); nothing else changes on that path.
"""

import contextvars
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from config.celery import task_send

# Deliveries claimed, sent at once and recorded together by one task.
BATCH_SIZE = 20

LocalRunner = Callable[[int, float], None]
_local_runner: contextvars.ContextVar[LocalRunner | None] = contextvars.ContextVar("webhook_local_runner",
                                                                                  default=None)


def deliveries_enqueue(*, delivery_ids: Iterable[int], countdown: float = 0.0) -> None:
    delivery_ids = list(delivery_ids)
    runner = _local_runner.get()
    if runner is not None:
        for delivery_id in delivery_ids:
            runner(delivery_id, countdown)
        return
    for start in range(0, len(delivery_ids), BATCH_SIZE):
        task_send("webhooks.tasks.webhook_deliveries_attempt_task", args=[delivery_ids[start:start + BATCH_SIZE]],
                  countdown=max(countdown, 0) or None)


@contextmanager
def deliveries_run_locally(runner: LocalRunner) -> Iterator[None]:
    token = _local_runner.set(runner)
    try:
        yield
    finally:
        _local_runner.reset(token)
