import socket
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from core.logcontext import log_context
from syncs.engine import run_execute
from syncs.models import SyncRun, WorkerHeartbeat
from syncs.retention import history_prune
from syncs.services import syncs_reap, syncs_schedule_due


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30)
def worker_heartbeat_task():
    WorkerHeartbeat.objects.update_or_create(hostname=socket.gethostname(), defaults={"seen_at": timezone.now()})


@shared_task(acks_late=True, ignore_result=True)
def sync_run_execute_task(run_id: str, ready_at: str | None = None):
    # Time limits come from CELERY_TASK_SOFT_TIME_LIMIT/TIME_LIMIT; on the soft limit the run
    # requeues itself from its checkpoint. `ready_at` names the run's stay in the queue this
    # message is for (messages sent before it was added carry none).
    # The run's lines carry its id and the id of the request that triggered it (blank: scheduled).
    request_id = SyncRun.objects.filter(pk=run_id).values_list("request_id", flat=True).first()
    with log_context(request_id=request_id or "", run_id=str(run_id)):
        run_execute(run_id=run_id, ready_at=datetime.fromisoformat(ready_at) if ready_at else None)


@shared_task(ignore_result=True, soft_time_limit=25, time_limit=30)
def sync_schedule_task():
    syncs_schedule_due()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def sync_reap_task():
    syncs_reap()


# Its soft limit leaves room past RETENTION_PRUNE_SECONDS for the batch under way to finish.
@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660)
def history_prune_task():
    history_prune()
