from django.shortcuts import render
from django.utils import timezone

from dashboard.selectors import overview as selectors
from dashboard.views.common import VIEW_OVERVIEW, dashboard_view, template_for


@dashboard_view(VIEW_OVERVIEW)
def overview(request):
    now = timezone.now()
    context = {
        "summary": selectors.overview_summary(now=now),
        "series": selectors.hourly_series(now=now),
        "slowest": selectors.slowest_connections(now=now),
        "failing": selectors.failing_connections(now=now),
    }
    return render(request, template_for(request, "dashboard/overview.html", "figures"), context)
