from django.shortcuts import render

from dashboard.forms import AuditFilterForm
from dashboard.selectors import audit as selectors
from dashboard.views.common import VIEW_AUDIT, dashboard_view, template_for


@dashboard_view(VIEW_AUDIT)
def audit_log(request):
    filters = selectors.AuditFilters(**AuditFilterForm(request.GET).values())
    context = {"page": selectors.audit_list(filters=filters, cursor=request.GET.get("cursor")), "filters": filters,
               "sources": selectors.audit_sources(), "actions": selectors.KNOWN_ACTIONS}
    return render(request, template_for(request, "dashboard/audit.html", "results"), context)
