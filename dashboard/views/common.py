"""What every dashboard view shares: login, permissions, actors, and answering htmx and plain POSTs."""

import functools
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from core.audit import Actor
from core.errors import CatalogError, spec_for
from dashboard.templatetags.dashboard import humanize_entity

PERM_SYNC = "connections.trigger_sync"  # Sync now, Full resync, Cancel, Retry
PERM_MANAGE = "connections.manage_connection"  # connect, edit, pause/resume, test, rotate token, incidents
PERM_WEBHOOKS = "webhooks.change_endpoint"  # test event, resend, replay, rotate secret, enable/disable

# Reading a page takes staff plus the view permission of what it shows (issue 11, item 4): a login
# alone no longer shows config, token prefixes, failures or the audit log.
VIEW_CONNECTIONS = ("connections.view_connection",)
VIEW_RUNS = ("syncs.view_syncrun",)
VIEW_FAILURES = ("syncs.view_incident",)
VIEW_AUDIT = ("core.view_auditevent",)
VIEW_WEBHOOKS = ("webhooks.view_endpoint", "webhooks.view_delivery")
# The record browser shows customer data (the unified record and its raw upstream copy): the
# connection's view permission, plus the one that reads records in the admin.
VIEW_RECORDS = VIEW_CONNECTIONS + ("syncs.view_record",)
# The overview counts connections, runs, incidents and endpoints, but names only connections and
# their runs (slowest, failing): those two are what it needs.
VIEW_OVERVIEW = VIEW_CONNECTIONS + VIEW_RUNS


def dashboard_view(permissions: tuple[str, ...]):
    """Login required (an htmx request whose session ran out gets a full-page redirect to the login
    page instead of the login form swapped into a fragment), then staff plus every permission
    given: 403 otherwise, the same for a user who lacks one as for one who is not staff."""
    if not isinstance(permissions, tuple):
        raise TypeError("dashboard_view takes the permissions its page needs: @dashboard_view(VIEW_...)")

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not request.user.is_authenticated:
                if request.htmx:
                    return HttpResponseClientRedirect(redirect_to_login(request.get_full_path())["Location"])
                return redirect_to_login(request.get_full_path())
            if not (request.user.is_staff and request.user.has_perms(permissions)):
                raise PermissionDenied("needs staff and " + ", ".join(permissions))
            response = view(request, *args, **kwargs)
            # One URL answers a fragment or the whole page: caches and the back button must not mix them.
            patch_vary_headers(response, ("HX-Request",))
            return response

        return wrapper

    return decorate


def action_view(permission: str, *, page: tuple[str, ...]):
    """A POST-only action: the permission of its page (the answer re-renders it), then its own
    (403 without it, buttons are hidden too)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied(f"needs {permission}")
            return view(request, *args, **kwargs)

        return dashboard_view(page)(require_POST(wrapper))

    return decorate


def actor_for(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, source="dashboard", request_id=getattr(request, "request_id", ""))


PROBE_LABELS = {"ok": "ok", "no_permission": "no permission", "not_found": "not found", "failed": "failed"}


@dataclass(frozen=True)
class Flash:
    """The outcome of an action, shown inline (htmx) or as a message after a redirect."""

    level: str  # success | error | info
    text: str
    code: str = ""
    hint: str = ""
    details: dict = field(default_factory=dict)
    # A connection test's per-entity outcomes (connections.services.connector_probe), listed under the text.
    entities: dict = field(default_factory=dict)

    @classmethod
    def from_error(cls, exc: CatalogError) -> "Flash":
        return cls(level="error", text=exc.message, code=exc.code, hint=spec_for(exc.code).action,
                   details=exc.details or {})

    @classmethod
    def from_result(cls, result: dict, *, ok_text: str) -> "Flash":
        """From a {"ok": ..., "code", "message", "details"} check result."""
        if result.get("ok"):
            return cls(level="success", text=ok_text)
        return cls(level="error", text=result.get("message", ""), code=result.get("code", ""),
                   hint=spec_for(result.get("code", "")).action, details=result.get("details") or {})

    @classmethod
    def from_probe(cls, result: dict) -> "Flash":
        """From a connection test (connector_probe): the credentials, then one line per entity.
        An entity that cannot be read makes it an error: its syncs would fail."""
        entities = result.get("entities") or {}
        if not result.get("ok"):
            return cls.from_result(result, ok_text="")
        # What the connector found for the form (connector_probe's "details"), e.g. values to choose from.
        details = result.get("details") or {}
        failed = [name for name, outcome in entities.items() if not outcome["ok"]]
        if not failed:
            return cls(level="success", text="Connection test passed: the credentials work and every entity "
                                             "tested can be read.", entities=entities, details=details)
        codes = {entities[name]["code"] for name in failed}
        hint = spec_for(codes.pop()).action if len(codes) == 1 else ""
        noun = "entity" if len(entities) == 1 else "entities"
        return cls(level="error", text=f"The credentials work, but {len(failed)} of {len(entities)} {noun} "
                                       "cannot be read.", hint=hint, entities=entities, details=details)

    def as_message(self) -> str:
        parts = [f"{self.code}: {self.text}" if self.code else self.text]
        if self.entities:
            parts.append("; ".join(_probe_line(name, outcome) for name, outcome in self.entities.items()))
        for name, options in (self.details.get("choices") or {}).items():
            parts.append(f"choose {name} from: " + ", ".join(f"{o['label']} ({o['value']})" for o in options))
        if self.hint:
            parts.append(self.hint)
        return " — ".join(parts)


def _probe_line(entity: str, outcome: dict) -> str:
    line = f"{humanize_entity(entity)}: {PROBE_LABELS[outcome['outcome']]}"
    return f"{line} ({outcome['code']})" if outcome.get("code") else line


def attempt(fn, *, ok_text) -> Flash:
    """Runs an action; a catalogued error becomes an error Flash (code, message, what to do)."""
    try:
        result = fn()
    except CatalogError as exc:
        return Flash.from_error(exc)
    return Flash(level="success", text=ok_text(result) if callable(ok_text) else ok_text)


def _message(request: HttpRequest, flash: Flash) -> None:
    level = {"success": messages.SUCCESS, "error": messages.ERROR}.get(flash.level, messages.INFO)
    messages.add_message(request, level, flash.as_message())


def flash_redirect(request: HttpRequest, flash: Flash, to: str) -> HttpResponse:
    """The no-JavaScript answer to a POST: the outcome as a message, then redirect (PRG)."""
    _message(request, flash)
    return redirect(safe_next(request, default=to))


def flash_navigate(request: HttpRequest, flash: Flash, to: str) -> HttpResponse:
    """After an action that leaves no region to swap (a confirmation page, a deleted object):
    the outcome as a message on the next page; htmx is told to load that page in full."""
    if request.htmx:
        _message(request, flash)
        return HttpResponseClientRedirect(safe_next(request, default=to))
    return flash_redirect(request, flash, to)


def require_perm(request: HttpRequest, permission: str) -> None:
    """For pages that exist only to act (a form, a confirmation): 403 without the permission."""
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"needs {permission}")


def safe_next(request: HttpRequest, *, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return default


def no_store(response: HttpResponse) -> HttpResponse:
    """For pages that show a secret once: never cached, never replayed from history."""
    response["Cache-Control"] = "no-store"
    return response


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx request, except a history restore, which needs the whole page back."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def template_for(request: HttpRequest, page: str, partial: str) -> str:
    """The whole page normally, only the named region for htmx (django-htmx example style)."""
    return f"{page}#{partial}" if wants_fragment(request) else page
