from django.shortcuts import render

from dashboard.forms import parse_time
from dashboard.selectors import audit as selectors
from dashboard.selectors.common import parse_uuid
from dashboard.views.common import VIEW_AUDIT, dashboard_view, template_for


@dashboard_view(VIEW_AUDIT)
def audit_log(request):
    get = request.GET
    source = get.get("source", "")
    filters = selectors.AuditFilters(
        source=source if source in selectors.audit_sources() else "", action=get.get("action", "").strip(),
        actor=get.get("actor", "").strip(), connection=parse_uuid(get.get("connection")),
        request_id=get.get("request_id", "").strip(), since=parse_time(get.get("since")),
        until=parse_time(get.get("until")))
    context = {"page": selectors.audit_list(filters=filters, cursor=get.get("cursor")), "filters": filters,
               "sources": selectors.audit_sources(), "actions": selectors.KNOWN_ACTIONS}
    return render(request, template_for(request, "dashboard/audit.html", "results"), context)
