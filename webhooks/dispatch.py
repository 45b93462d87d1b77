"""Where a due delivery goes to be attempted: the `webhooks` Celery queue.

Services call `deliveries_enqueue` only from `transaction.on_commit`, so a worker never sees
a delivery before its row is committed. `deliveries_run_locally` redirects the calls in the
current context to a function instead (the benchmark runs attempts in its own thread pool);
nothing else changes on that path.
"""

import contextvars
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

LocalRunner = Callable[[int, float], None]
_local_runner: contextvars.ContextVar[LocalRunner | None] = contextvars.ContextVar("webhook_local_runner",
                                                                                  default=None)


def deliveries_enqueue(*, delivery_ids: Iterable[int], countdown: float = 0.0) -> None:
    runner = _local_runner.get()
    if runner is not None:
        for delivery_id in delivery_ids:
            runner(delivery_id, countdown)
        return
    from webhooks.tasks import webhook_delivery_attempt_task

    for delivery_id in delivery_ids:
        webhook_delivery_attempt_task.apply_async(args=[delivery_id], countdown=max(countdown, 0) or None)


@contextmanager
def deliveries_run_locally(runner: LocalRunner) -> Iterator[None]:
    token = _local_runner.set(runner)
    try:
        yield
    finally:
        _local_runner.reset(token)
