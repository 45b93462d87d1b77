"""Connect a system: pick a connector, fill the form its fields generate, test, save."""

from dataclasses import replace

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from connections.connectors.registry import connector_catalogue, connector_class
from core.errors import CatalogError
from dashboard import services as dashboard_services
from dashboard.forms import ConnectForm, ConnectorFieldsMixin
from dashboard.selectors import connections as selectors
from dashboard.views.common import (
    PERM_MANAGE,
    VIEW_CONNECTIONS,
    Flash,
    action_view,
    actor_for,
    dashboard_view,
    no_store,
)
from syncs.lifecycle import connection_create

# The catalogue's "what to do" is written for a saved connection ("Reauthorize the connection");
# on the connect form there is none yet: the person fixes the fields the page marks.
FORM_HINTS = {
    "UPSTREAM_AUTHENTICATION_FAILED": "Check the marked credentials, then test or save again.",
}


def _connector(key: str):
    try:
        return connector_class(key)
    except CatalogError:
        raise Http404(f"no connector {key!r}") from None


def form_error_flash(form: ConnectorFieldsMixin, exc: CatalogError, *, hints: dict | None = None) -> Flash:
    """The flash above a form a service refused, once add_catalog_error has marked its fields:
    what is on a field is not listed again, and the advice is a form's, not the API's."""
    if exc.code == "VALIDATION_FAILED":
        unplaced = list(form.non_field_errors())  # what names no field of this form
        text = ("Some values need correcting: " + " ".join(unplaced)) if unplaced else \
            "Some values need correcting; see the marked fields."
        return Flash(level="error", text=text, code=exc.code)
    flash = Flash.from_error(exc)
    return replace(flash, hint=(hints or {}).get(exc.code, flash.hint))


def _session_key(connection_id) -> str:
    return f"connect_token:{connection_id}"


@dashboard_view(VIEW_CONNECTIONS)
def connector_pick(request):
    return render(request, "dashboard/connect.html", {"catalogue": connector_catalogue()})


@dashboard_view(VIEW_CONNECTIONS)
def connect_form(request, key):
    """GET shows the form; POST (Save) creates the connection, then redirects to the page that
    shows its token once (post/redirect/get: a refresh never submits again)."""
    connector = _connector(key)
    if request.method != "POST":
        return render(request, "dashboard/connect_form.html",
                      {"connector": connector.catalogue_entry(), "form": ConnectForm(connector=connector)})
    if not request.user.has_perm(PERM_MANAGE):
        raise PermissionDenied(f"needs {PERM_MANAGE}")
    form = ConnectForm(request.POST, connector=connector)
    flash = None
    if form.is_valid():
        try:
            connection, token = _create(request, form, key)
        except CatalogError as exc:
            form.add_catalog_error(exc)
            flash = form_error_flash(form, exc, hints=FORM_HINTS)
        else:
            # The token exists only now: the session keeps it for the one page that shows it.
            request.session[_session_key(connection.pk)] = token
            return see_other(reverse("dashboard:connect_done", args=[connection.pk]))
    return render(request, "dashboard/connect_form.html",
                  {"connector": connector.catalogue_entry(), "form": form, "flash": flash}, status=400)


def _create(request, form: ConnectForm, key: str):
    # One service for the API, the CLI and this form: checked once, then saved with its customer.
    data = form.cleaned_data
    return connection_create(
        customer_name=data["customer_name"], customer_external_id=data["customer_external_id"] or None,
        connector=key, name=data["name"], config=form.values("config"), credentials=form.values("credentials"),
        entities=data["entities"] or None, sync_interval_minutes=data["sync_interval_minutes"],
        history_days=data["history_days"], actor=actor_for(request))


def see_other(url: str) -> HttpResponseRedirect:
    """303: the browser follows with a GET, so a refresh of the next page never posts again."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


@dashboard_view(VIEW_CONNECTIONS)
@require_GET
def connect_done(request, connection_id):
    """The new connection's API token, once: taken out of the session as it is shown, so a
    refresh (or the back button) says it can no longer be shown instead of showing it again."""
    connection = selectors.connection_get(connection_id=connection_id)
    token = request.session.pop(_session_key(connection.pk), None)
    return no_store(render(request, "dashboard/connect_done.html", {"connection": connection, "token": token}))


@action_view(PERM_MANAGE, page=VIEW_CONNECTIONS)
def connect_test(request, key):
    """Test connection: checks the settings upstream without saving. The whole form comes back
    (htmx swaps it), so every field's errors are fresh and a failed test marks its fields."""
    connector = _connector(key)
    form = ConnectForm(request.POST, connector=connector)
    # Only the connector's own fields matter for a test; the rest may still be blank.
    for name in ("customer_name", "name", "sync_interval_minutes", "history_days"):
        form.fields[name].required = False
    if form.is_valid():
        result = dashboard_services.connector_test(connector=key, config=form.values("config"),
                                                   credentials=form.values("credentials"), actor=actor_for(request),
                                                   entities=form.cleaned_data["entities"] or None)
        flash = Flash.from_probe(result)
        if not result["ok"]:
            exc = CatalogError(result["code"], result["message"], details=result.get("details") or {})
            form.add_catalog_error(exc)
            flash = form_error_flash(form, exc, hints=FORM_HINTS)
    else:
        flash = Flash(level="error", text="Some values need correcting; see the marked fields.",
                      code="VALIDATION_FAILED")
    template = "dashboard/connect_form.html#form" if request.htmx else "dashboard/connect_form.html"
    return render(request, template, {"connector": connector.catalogue_entry(), "form": form, "test": flash})
