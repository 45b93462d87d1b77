from django.shortcuts import render

from dashboard.forms import AuditFilterForm
from dashboard.selectors import audit as selectors
from dashboard.selectors.connections import connection_picker
from dashboard.views.common import VIEW_AUDIT, dashboard_view, template_for


@dashboard_view(VIEW_AUDIT)
def audit_log(request):
    form = AuditFilterForm(request.GET)
    filters = selectors.AuditFilters(**form.values())
    picker = connection_picker(connection_id=filters.connection, q=filters.connection_q)
    context = {"page": selectors.audit_list(filters=filters, cursor=request.GET.get("cursor")), "filters": filters,
               "form": form, "picker": picker, "filter_connection": picker["picked"],
               "sources": selectors.audit_sources(), "actions": selectors.KNOWN_ACTIONS}
    return render(request, template_for(request, "dashboard/audit.html", "results"), context)
