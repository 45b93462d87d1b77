"""/healthz: the database, the broker, a worker heartbeat and the sync queue, each checked for real.

The queue check fails when the oldest ready run has waited past SYNC_QUEUE_ALERT_SECONDS, so
monitoring catches a dead or starved worker pool; its details are the machinery snapshot
(docs/architecture.md, "Seeing the machinery").

Anyone may ask whether the stack is up; only a staff session or the monitoring token
(HEALTH_TOKEN) sees which check failed and why, since the details name the database vendor,
the broker and the workers' host names.
"""

import hmac
import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from kombu import Connection as BrokerConnection

from syncs.machinery import machinery_snapshot
from syncs.models import WorkerHeartbeat

logger = logging.getLogger(__name__)
# The checks that failed at this process's last probe: a change is logged, a repeat is not.
_last = {"failing": frozenset()}
_last_lock = threading.Lock()


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict:
    url = settings.CELERY_BROKER_URL
    with BrokerConnection(url, connect_timeout=2, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return {"ok": True, "transport": url.split(":", 1)[0]}


def check_worker() -> dict:
    # The beat task's rows only (no pool size): a fresh one proves beat and a worker alive, where
    # the worker's own heartbeat (syncs/worker_heartbeat.py) goes on without beat.
    latest = WorkerHeartbeat.objects.filter(concurrency__isnull=True).order_by("-seen_at").first()
    if latest is None:
        return {"ok": False, "error": "no worker heartbeat yet: are the worker and beat running?"}
    age = timezone.now() - latest.seen_at
    ok = age <= timedelta(seconds=settings.HEALTH_WORKER_MAX_AGE_SECONDS)
    result = {"ok": ok, "hostname": latest.hostname, "age_seconds": round(age.total_seconds(), 1)}
    if not ok:
        result["error"] = "the last worker heartbeat is too old: a worker or beat is down"
    return result


def check_queue() -> dict:
    snapshot = machinery_snapshot(now=timezone.now())
    result = {"ok": not snapshot.alert, **snapshot.as_dict()}
    if snapshot.alert:
        result["error"] = (f"the oldest ready sync run has waited {snapshot.oldest_ready_seconds:.0f} s, over "
                           f"SYNC_QUEUE_ALERT_SECONDS ({snapshot.alert_seconds} s): are the workers alive and free?")
    return result


CHECKS = {"database": check_database, "broker": check_broker, "worker": check_worker, "queue": check_queue}


def run_checks() -> dict:
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # a health check reports every failure rather than raising it
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return results


def log_change(checks: dict) -> None:
    """One line when the set of failing checks changes, none for a probe that repeats the last."""
    failing = frozenset(name for name, check in checks.items() if not check["ok"])
    with _last_lock:
        before, _last["failing"] = _last["failing"], failing
    if failing == before:
        return
    if failing:
        errors = "; ".join(f"{name}: {checks[name].get('error', 'not ok')}" for name in sorted(failing))
        logger.warning("/healthz unavailable: %s", errors)
    else:
        logger.info("/healthz ok again (%s recovered)", ", ".join(sorted(before)))


def presented_token(request) -> str:
    """The token of `Authorization: Bearer <token>`, else of `?token=` (for probes that cannot set a header)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.GET.get("token", "")


def may_see_details(request) -> bool:
    if request.user.is_staff and request.user.is_active:
        return True
    expected, presented = settings.HEALTH_TOKEN, presented_token(request)
    # Constant time, so the token cannot be guessed a byte at a time from the response times.
    return bool(expected and presented) and hmac.compare_digest(expected.encode(), presented.encode())


def healthz(request):
    checks = run_checks()
    ok = all(check["ok"] for check in checks.values())
    log_change(checks)
    body = {"status": "ok" if ok else "unavailable"}
    if may_see_details(request):
        body["checks"] = checks
    response = JsonResponse(body, status=200 if ok else 503)
    # The body depends on who asks: a shared cache must not hand the details to the next caller.
    patch_cache_control(response, no_store=True)
    # Probes poll every few seconds and a starting stack is unavailable for a while: django.request
    # would log every 503 at ERROR. This one is logged above, once per change; Django skips it.
    response._has_been_logged = True
    return response
