"""The connections list and a connection's page (read side; actions are in connection_actions)."""

from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from dashboard.forms import ConnectionFilterForm, ConnectionSettingsForm, CredentialsForm
from dashboard.selectors import connections as selectors
from dashboard.selectors.charts import RANGES, chart_range, connection_run_charts
from dashboard.views.common import VIEW_CONNECTIONS, dashboard_view, template_for, wants_fragment

PER_PAGE = 50


@dashboard_view(VIEW_CONNECTIONS)
def connection_list(request):
    filters = ConnectionFilterForm(request.GET).values()
    page = Paginator(selectors.connection_search(**filters), PER_PAGE).get_page(request.GET.get("page"))
    selectors.connection_rows_annotate(page.object_list)
    context = {"page": page, "filters": filters, "choices": selectors.connection_filter_choices(),
               "filtered": any(filters.values())}
    return render(request, template_for(request, "dashboard/connections.html", "results"), context)


def detail_context(request, connection, **extra) -> dict:
    """Everything the connection page shows; the action views render it again with their outcome."""
    connector = selectors.connector_or_none(key=connection.connector)
    supported = connector.entities if connector else connection.entities  # None: no longer in the code
    context = {
        "connection": connection,
        "connector_name": connector.name if connector else connection.connector,
        "live": selectors.connection_live(connection=connection),
        "header": selectors.connection_header(connection=connection),
        "incidents": selectors.connection_incidents(connection=connection),
        "config": selectors.connection_config_display(connection=connection),
        "audit": selectors.connection_audit(connection=connection),
        "endpoints": selectors.connection_endpoints(connection=connection),
        "settings_form": ConnectionSettingsForm(connection=connection, supported=supported),
        # Reauthorize: a blank form from the connector's credential fields (none: nothing to enter).
        "credentials_form": CredentialsForm(connector=connector) if connector and connector.credential_fields else None,
        **charts_context(request, connection),
    }
    context.update(extra)
    return context


def charts_context(request, connection) -> dict:
    """Run duration and volume per entity over the range ?range= asks for (24h, 7d, 30d)."""
    rng = chart_range(request.GET.get("range"))
    return {"charts": {"range": rng, "entities": connection_run_charts(connection=connection, rng=rng,
                                                                      now=timezone.now())},
            "ranges": RANGES}


@dashboard_view(VIEW_CONNECTIONS)
def connection_detail(request, connection_id):
    connection = selectors.connection_get(connection_id=connection_id)
    if wants_fragment(request) and request.htmx.target == "charts":
        # A range link swaps the charts alone.
        return render(request, "dashboard/connection.html#charts",
                      {"connection": connection, **charts_context(request, connection)})
    return render(request, template_for(request, "dashboard/connection.html", "connection"),
                  detail_context(request, connection))


@dashboard_view(VIEW_CONNECTIONS)
def connection_live(request, connection_id):
    """The entity table and recent runs, polled every 2 s while a run is queued or running."""
    connection = selectors.connection_get(connection_id=connection_id)
    return render(request, "dashboard/connection.html#live",
                  {"connection": connection, "live": selectors.connection_live(connection=connection)})


@dashboard_view(VIEW_CONNECTIONS)
def connection_pick(request):
    """The filter forms' connection picker: connections matching what was typed (by customer or
    name), as radio options the form submits. One bounded query at any number of connections."""
    # Bounded, and no NUL (PostgreSQL cannot compare one), like every filter box (dashboard/forms.py).
    q = (request.GET.get("connection_q") or request.GET.get("q") or "")[:200].replace("\x00", "")
    return render(request, "dashboard/_connection_picker.html#options",
                  {"picker": selectors.connection_picker(connection_id=None, q=q)})


@dashboard_view(VIEW_CONNECTIONS)
def connection_header(request, connection_id):
    """The status badge, its reason and the last sync, polled every 2 s while a run is queued or
    running (static/js/live.js wakes it when the entities section starts polling)."""
    connection = selectors.connection_get(connection_id=connection_id)
    if not wants_fragment(request):
        return redirect(reverse("dashboard:connection", args=[connection.pk]))
    return render(request, "dashboard/connection.html#header",
                  {"connection": connection, "header": selectors.connection_header(connection=connection)})
