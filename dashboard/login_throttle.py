"""Login throttling with django-axes (config/settings/base.py: AXES_*): the client address it
counts, the lockout page, and the lockout as a security event in the log and the audit log."""

import ipaddress
import logging

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.audit import Actor, audit_record
from core.models import AuditEvent

logger = logging.getLogger("security")


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR; behind TRUSTED_PROXY_COUNT proxies, the address the outermost one saw. A
    forged or garbled X-Forwarded-For beyond them is never read."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies and len(forwarded) >= proxies and _is_ip(forwarded[-proxies]):
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def lockout_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The same page for every refused login: nothing in it depends on the account existing."""
    minutes = lockout_minutes()
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    response["Cache-Control"] = "no-store"
    return response


class AuditedDatabaseHandler(AxesDatabaseHandler):
    """Axes' database handler; the failure that locks an account or an address is also written to
    the `security` log and the audit log, once per lockout (later refusals only extend it)."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is not None and getattr(request, "axes_locked_out", False) and (
                getattr(request, "axes_failures_since_start", None) == get_failure_limit(request, credentials)):
            lockout_record(request=request, username=get_client_username(request, credentials) or "")


def lockout_record(*, request: HttpRequest, username: str) -> AuditEvent:
    match = request.resolver_match
    source = AuditEvent.Source.ADMIN if match and match.app_name == "admin" else AuditEvent.Source.DASHBOARD
    details = {"ip": request.axes_ip_address, "path": request.path[:200],
               "failures": request.axes_failures_since_start, "minutes": lockout_minutes()}
    # %r: the username is whatever the client typed, newlines included.
    logger.warning("login locked out: username=%r ip=%s path=%s failures=%s", username, details["ip"],
                   details["path"], details["failures"])
    actor = Actor(name=username[:200], source=source, request_id=getattr(request, "request_id", ""))
    return audit_record(actor=actor, action="login.locked_out", details=details)
