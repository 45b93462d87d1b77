"""The page at a connect link (docs/connect-links.md): outside the staff login, for the company's
customer, who picks one of the link's connectors, fills its fields, tests and connects.

Whatever is wrong with a token (unknown, expired, used, revoked), the answer is the same page
with the same status, so the page tells an outsider nothing. Typed credentials are never put
back into a page: a test answer swaps only the result and the fields' error texts (htmx), and a
refused Connect renders the form again with every credential field empty.
"""

import functools
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from connections.connect_link_limits import attempts_over, attempts_seen
from connections.connect_links import connect_link_opened, connect_link_resolve, connect_link_test
from connections.connectors.base import Connector
from connections.connectors.registry import connector_class
from connections.models import ConnectLink
from core.errors import CatalogError
from core.security_headers import csp_header
from dashboard.forms import ConnectorFieldsMixin
from dashboard.login_throttle import client_ip
from dashboard.setup_steps import setup_steps
from dashboard.views.common import wants_fragment
from syncs.connect_links import connect_link_connect

PAGE = "connect_link/page.html"


class LinkConnectForm(ConnectorFieldsMixin, forms.Form):
    """The chosen connector's config and credential fields, as the staff connect form makes them.
    Each input names its help and its error text (aria-describedby); the error element is always
    there, so a test answer can fill or clear it in place."""

    connector = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, connector: type[Connector], **kwargs):
        super().__init__(*args, initial={"connector": connector.key}, **kwargs)
        self.connector = connector
        self.add_connector_fields("config", connector.config_fields)
        self.add_connector_fields("credentials", connector.credential_fields)
        for name, field in self.fields.items():
            if name.startswith("credentials__"):
                field.initial = None
                field.widget.attrs["autocomplete"] = "off"
            described = [f"id_{name}_error"] + ([f"id_{name}_helptext"] if field.help_text else [])
            field.widget.attrs["aria-describedby"] = " ".join(described)

    def add_upstream_error(self, code: str, message: str) -> None:
        """An upstream refusal on the fields it is about (credentials, or the system's address),
        as the staff connect form marks them; else above the form."""
        marked = self.failure_fields(code)
        for name, text in marked.items():
            self.add_error(name, text)
        if not marked:
            self.add_error(None, message)

    def forget_credentials(self) -> None:
        """After a refused submit: keep the errors, drop what was typed in the credential fields."""
        self.is_valid()
        data = self.data.copy()
        for bound in self.credential_inputs:
            data.pop(bound.name, None)
        self.data = data


def link_headers(view):
    """Every answer of these pages: never cached, never in a Referer to another site (the path holds the token),
    its own CSP, and framed only by the origins the settings allow."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        # same-origin, not no-referrer: Chrome then sends "Origin: null" with a form POST, which CSRF refuses.
        response["Referrer-Policy"] = "same-origin"
        ancestors = list(settings.CONNECT_LINK_FRAME_ANCESTORS)
        form_action = ["'self'", *getattr(response, "form_targets", [])]
        response["Content-Security-Policy"] = csp_header({
            "default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'"],
            "img-src": ["'self'", "data:"], "connect-src": ["'self'"], "object-src": ["'none'"],
            "base-uri": ["'none'"], "form-action": form_action, "frame-ancestors": ancestors or ["'none'"]})
        if ancestors:
            response.xframe_options_exempt = True
        else:
            response["X-Frame-Options"] = "DENY"
        patch_vary_headers(response, ("HX-Request",))
        return response

    return wrapper


def _invalid(request: HttpRequest) -> HttpResponse:
    """One page for every refused token: the same status and body whatever the reason."""
    return render(request, "connect_link/invalid.html", {"company": settings.PLANTSYNC_COMPANY_NAME}, status=404)


def _too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    response = render(request, "connect_link/too_many.html",
                      {"company": settings.PLANTSYNC_COMPANY_NAME, "retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def with_link(view):
    """Resolves the token to a usable link, or answers the invalid page; an address that sent
    too many refused tokens this minute gets 429 before its token is even looked at."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, token: str, *args, **kwargs):
        address_key = f"address:{client_ip(request)}"
        limit = settings.CONNECT_LINK_FAILED_TOKEN_LIMIT
        if attempts_seen(key=address_key) >= limit:
            return _too_many(request, attempts_over(key=address_key, limit=limit) or 60)
        link = connect_link_resolve(token=token, request_id=getattr(request, "request_id", ""))
        if link is None:
            retry_after = attempts_over(key=address_key, limit=limit)
            return _too_many(request, retry_after) if retry_after else _invalid(request)
        return view(request, link, *args, **kwargs)

    return link_headers(wrapper)


def _chosen(link: ConnectLink, key: str | None) -> type[Connector] | None:
    if not key and len(link.connectors) == 1:
        key = link.connectors[0]
    if key not in link.connectors:
        return None
    try:
        return connector_class(key)
    except CatalogError:
        return None


def _context(request: HttpRequest, link: ConnectLink, connector, form, **extra) -> dict:
    choices = []
    for key in link.connectors:
        try:
            choices.append(connector_class(key).catalogue_entry())
        except CatalogError:
            continue  # a connector removed since the link was made is not offered
    return {"company": settings.PLANTSYNC_COMPANY_NAME, "link": link, "token_path": request.path_info,
            "customer": link.customer.name, "choices": choices, "connector": connector and connector.catalogue_entry(),
            "form": form, "steps": setup_steps(connector.key) if connector else "",
            "entities": link.entities or (list(connector.entities) if connector else []),
            "failed": _failed(extra.get("result")), **extra}


def _failed(result: dict | None) -> list[str]:
    return [e for e, outcome in ((result or {}).get("entities") or {}).items() if not outcome["ok"]]


@require_GET
@with_link
def link_page(request: HttpRequest, link: ConnectLink) -> HttpResponse:
    """The page; `?connector=` picks a connector (htmx swaps in only its form)."""
    connector = _chosen(link, request.GET.get("connector"))
    form = LinkConnectForm(connector=connector) if connector else None
    if not wants_fragment(request):
        connect_link_opened(link=link, request_id=getattr(request, "request_id", ""))
    context = _context(request, link, connector, form)
    template = f"{PAGE}#connector_form" if wants_fragment(request) else PAGE
    return _with_targets(render(request, template, context), link)


def _with_targets(response: HttpResponse, link: ConnectLink) -> HttpResponse:
    # A form POST that redirects elsewhere needs that origin in form-action, or the browser stops it.
    if link.redirect_url:
        parts = urlsplit(link.redirect_url)
        response.form_targets = [f"{parts.scheme}://{parts.netloc}"]
    return response


def _bound_form(request: HttpRequest, link: ConnectLink):
    connector = _chosen(link, request.POST.get("connector"))
    return connector, (LinkConnectForm(request.POST, connector=connector) if connector else None)


@require_POST
@with_link
def link_test(request: HttpRequest, link: ConnectLink) -> HttpResponse:
    """Test connection: the credentials, then each entity. Limited per link, so the page cannot
    be used to try passwords against the customer's system."""
    retry_after = attempts_over(key=f"test:{link.pk}", limit=settings.CONNECT_LINK_TEST_LIMIT)
    if retry_after:
        return _too_many(request, retry_after)
    connector, form = _bound_form(request, link)
    if form is None:
        return _invalid(request)
    result = None
    if form.is_valid():
        result = connect_link_test(link=link, connector=connector.key, config=form.values("config"),
                                   credentials=form.values("credentials"),
                                   request_id=getattr(request, "request_id", ""))
        if not result["ok"]:
            _result_errors(form, result)
    if wants_fragment(request):
        return render(request, f"{PAGE}#test_answer", _context(request, link, connector, form, result=result,
                                                                tested=True))
    form.forget_credentials()
    return _with_targets(render(request, PAGE, _context(request, link, connector, form, result=result, tested=True)),
                         link)


def _result_errors(form: LinkConnectForm, result: dict) -> None:
    code = result.get("code", "")
    if code == "VALIDATION_FAILED":
        form.add_catalog_error(CatalogError(code, result.get("message", ""), details=result.get("details") or {}))
    else:
        form.add_upstream_error(code, result.get("message", ""))


@require_POST
@with_link
def link_connect(request: HttpRequest, link: ConnectLink) -> HttpResponse:
    """Connect: the connection is created (its credentials checked upstream first), the link is
    spent, the first sync queued; then the link's redirect, or the done page."""
    connector, form = _bound_form(request, link)
    if form is None:
        return _invalid(request)
    if form.is_valid():
        try:
            connect_link_connect(link=link, connector=connector.key, config=form.values("config"),
                                 credentials=form.values("credentials"),
                                 request_id=getattr(request, "request_id", ""))
        except CatalogError as exc:
            if exc.code == "NOT_FOUND":  # spent or revoked while the customer was typing
                return _invalid(request)
            if exc.code == "VALIDATION_FAILED":
                form.add_catalog_error(exc)
            else:
                form.add_upstream_error(exc.code, exc.message)
        else:
            return redirect(link.redirect_url or "connect_link_done")
    form.forget_credentials()
    return _with_targets(render(request, PAGE, _context(request, link, connector, form), status=400), link)


@require_GET
@link_headers
def link_done(request: HttpRequest) -> HttpResponse:
    return render(request, "connect_link/done.html", {"company": settings.PLANTSYNC_COMPANY_NAME})
