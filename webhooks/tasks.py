"""Celery tasks for webhooks: thin wrappers that take ids and call one service each.

Routed to the `webhooks` queue (CELERY_TASK_ROUTES), so deliveries never wait behind syncs.
"""

from celery import shared_task
from django.conf import settings

from config.celery import task_send
from core.retention import Budget
from webhooks import retention, services


# acks_late: a worker that dies mid-batch leaves the message to be redelivered; the claim in
# deliveries_attempt makes the redelivery (and any duplicate from the sweeper) harmless. The
# time limits cover the task's drain budget plus one batch at the longest request timeout.
@shared_task(acks_late=True, ignore_result=True, soft_time_limit=90, time_limit=120)
def webhook_deliveries_attempt_task(delivery_ids: list[int]) -> None:
    services.deliveries_attempt(delivery_ids=delivery_ids)


# The one-delivery task of earlier releases: messages it still has queued (during and after an
# upgrade) are attempted exactly as before.
@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def webhook_delivery_attempt_task(delivery_id: int) -> None:
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def webhook_sweep_task() -> None:
    services.deliveries_sweep()


# What a deleted endpoint leaves (its deliveries and attempts, then its row), in batches; out of
# time, it goes on in a message of its own (the hourly prune also finishes what a lost one left).
@shared_task(acks_late=True, ignore_result=True, soft_time_limit=600, time_limit=660)
def webhook_endpoint_purge_task(endpoint_id: int) -> None:
    if not retention.endpoint_purge(endpoint_id=endpoint_id, batch_size=settings.RETENTION_BATCH_SIZE,
                                    budget=Budget(settings.RETENTION_PRUNE_SECONDS)):
        task_send("webhooks.tasks.webhook_endpoint_purge_task", args=[endpoint_id])
