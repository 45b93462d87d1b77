import functools
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("plantsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# By name, so this module (loaded before Django's apps) does not import syncs.
app.steps["worker"].add("syncs.worker_heartbeat.WorkerHeartbeatStep")


@functools.cache
def _task_modules_import() -> None:
    # A worker imports every app's tasks module when it starts; a web process that only sends
    # tasks has not, until this (once).
    app.loader.import_default_modules()


def task_send(name: str, *, args: list, countdown: float | None = None) -> None:
    """Enqueues the task registered as `name`, with its own options and routes (and eagerly when
    task_always_eager is set). By name, so whoever enqueues need not import the tasks module,
    which imports the services that enqueue."""
    _task_modules_import()
    app.tasks[name].apply_async(args, countdown=countdown)

