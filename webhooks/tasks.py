"""Celery tasks for webhooks: thin wrappers that take ids and call one service each.

Routed to the `webhooks` queue (CELERY_TASK_ROUTES), so deliveries never wait behind syncs.
"""

from celery import shared_task

from webhooks import services


# acks_late: a worker that dies mid-attempt leaves the message to be redelivered; the claim in
# delivery_attempt makes the redelivery (and any duplicate from the sweeper) harmless.
@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def webhook_delivery_attempt_task(delivery_id: int) -> None:
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def webhook_sweep_task() -> None:
    services.deliveries_sweep()
