import socket

from celery import shared_task
from django.utils import timezone

from syncs.models import WorkerHeartbeat


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30)
def worker_heartbeat_task():
    WorkerHeartbeat.objects.update_or_create(hostname=socket.gethostname(), defaults={"seen_at": timezone.now()})
