"""Connect a system: pick a connector, fill the form its fields generate, test, save."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render

from connections.connectors.registry import connector_catalogue, connector_class
from core.errors import CatalogError
from dashboard import services as dashboard_services
from dashboard.forms import ConnectForm
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


def _connector(key: str):
    try:
        return connector_class(key)
    except CatalogError:
        raise Http404(f"no connector {key!r}") from None


@dashboard_view(VIEW_CONNECTIONS)
def connector_pick(request):
    return render(request, "dashboard/connect.html", {"catalogue": connector_catalogue()})


@dashboard_view(VIEW_CONNECTIONS)
def connect_form(request, key):
    """GET shows the form; POST (Save) creates the connection and shows its token once."""
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
            # One service for the API, the CLI and this form: checked once, then saved with its customer.
            connection, token = connection_create(
                customer_name=form.cleaned_data["customer_name"],
                customer_external_id=form.cleaned_data["customer_external_id"] or None, connector=key,
                name=form.cleaned_data["name"], config=form.values("config"), credentials=form.values("credentials"),
                entities=form.cleaned_data["entities"] or None,
                sync_interval_minutes=form.cleaned_data["sync_interval_minutes"],
                history_days=form.cleaned_data["history_days"], actor=actor_for(request))
        except CatalogError as exc:
            form.add_catalog_error(exc)
            flash = Flash.from_error(exc)
        else:
            # Rendered, not redirected: the token exists only in this response.
            return no_store(render(request, "dashboard/connect_done.html", {"connection": connection, "token": token}))
    return render(request, "dashboard/connect_form.html",
                  {"connector": connector.catalogue_entry(), "form": form, "flash": flash}, status=400)


@action_view(PERM_MANAGE, page=VIEW_CONNECTIONS)
def connect_test(request, key):
    """Test connection: checks the settings upstream without saving; the outcome shows inline."""
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
            form.add_catalog_error(CatalogError(result["code"], result["message"], details=result.get("details") or {}))
    else:
        flash = Flash(level="error", text="Some fields are invalid; see the form.", code="VALIDATION_FAILED")
    template = "dashboard/connect_form.html#test_result" if request.htmx else "dashboard/connect_form.html"
    return render(request, template, {"connector": connector.catalogue_entry(), "form": form, "test": flash})
