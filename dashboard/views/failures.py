"""Failures: unresolved incidents grouped by connection and error code; Acknowledge and Resolve."""

from urllib.parse import urlsplit

from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from dashboard import services as dashboard_services
from dashboard.forms import FailureFilterForm
from dashboard.selectors import failures as selectors
from dashboard.selectors.connections import connection_incidents, connection_picker
from dashboard.templatetags.dashboard import humanize_entity
from dashboard.views.common import (
    PERM_MANAGE,
    VIEW_CONNECTIONS,
    VIEW_FAILURES,
    Flash,
    action_view,
    actor_for,
    dashboard_view,
    flash_redirect,
    wants_fragment,
)
from syncs.models import Incident


def _query(request) -> QueryDict:
    """The page's filters: its query string, or for an htmx POST the query of the page it came from."""
    if request.method == "GET":
        return request.GET
    current = request.htmx.current_url if request.htmx else ""
    try:
        return QueryDict(urlsplit(current or "").query)
    except ValueError:  # the header is the client's: "http://[" is no URL
        return QueryDict()


def _render(request, *, flash: Flash | None = None, partial: bool = False):
    query = _query(request)
    filters = FailureFilterForm(query).values()
    picker = connection_picker(connection_id=filters["connection"], q=filters["connection_q"])
    context = {"page": selectors.failure_groups(**filters, page=query.get("page") or 1), "filters": filters,
               "counts": selectors.failure_counts(error_code=filters["error_code"], connection=filters["connection"]),
               "picker": picker, "filter_connection": picker["picked"],
               "codes": selectors.failure_codes(), "flash": flash, "statuses": list(Incident.UNRESOLVED)}
    template = "dashboard/failures.html#groups" if partial else "dashboard/failures.html"
    return render(request, template, context)


@dashboard_view(VIEW_FAILURES)
def failures(request):
    return _render(request, partial=wants_fragment(request))


def _group_action(request, service, verb: str):
    group = FailureFilterForm(request.POST).values()  # the same checks as the page's filters
    members = selectors.incident_group_members(connection_id=group["connection"], error_code=group["error_code"])
    if not members:
        raise Http404("no unresolved incidents in this group")
    changed = service(incidents=members, actor=actor_for(request))
    flash = Flash(level="success", text=f"{verb} {changed} incident{'s' if changed != 1 else ''} "
                  f"({members[0].error_code} on {members[0].connection.name}).")
    if request.htmx:
        return _render(request, flash=flash, partial=True)
    return flash_redirect(request, flash, reverse("dashboard:failures"))


@action_view(PERM_MANAGE, page=VIEW_FAILURES)
def group_acknowledge(request):
    return _group_action(request, dashboard_services.incidents_acknowledge, "Acknowledged")


@action_view(PERM_MANAGE, page=VIEW_FAILURES)
def group_resolve(request):
    return _group_action(request, dashboard_services.incidents_resolve, "Resolved")


def _incident_action(request, incident_id, service, verb: str):
    """One incident, from the connection page: answers with that page's incidents region."""
    incident = get_object_or_404(Incident.objects.select_related("connection__customer"), pk=incident_id)
    service(incidents=[incident], actor=actor_for(request))
    where = humanize_entity(incident.entity) or "the connection"
    flash = Flash(level="success", text=f"{verb} {incident.error_code} on {where}.")
    connection = incident.connection
    if request.htmx:
        return render(request, "dashboard/connection.html#incidents",
                      {"connection": connection, "incidents": connection_incidents(connection=connection),
                       "incident_flash": flash})
    return flash_redirect(request, flash, reverse("dashboard:connection", args=[connection.pk]))


@action_view(PERM_MANAGE, page=VIEW_FAILURES + VIEW_CONNECTIONS)
def incident_acknowledge(request, incident_id):
    return _incident_action(request, incident_id, dashboard_services.incidents_acknowledge, "Acknowledged")


@action_view(PERM_MANAGE, page=VIEW_FAILURES + VIEW_CONNECTIONS)
def incident_resolve(request, incident_id):
    return _incident_action(request, incident_id, dashboard_services.incidents_resolve, "Resolved")
