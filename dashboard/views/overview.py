from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from dashboard.selectors import overview as selectors
from dashboard.views.common import VIEW_OVERVIEW, dashboard_view, template_for, wants_fragment
from syncs.machinery import machinery_snapshot


@dashboard_view(VIEW_OVERVIEW)
def overview(request):
    now = timezone.now()
    context = {
        **now_context(now=now),
        "series": selectors.hourly_series(now=now),
        "slowest": selectors.slowest_connections(now=now),
        "failing": selectors.failing_connections(now=now),
        "machinery": machinery_snapshot(now=now),
    }
    return render(request, template_for(request, "dashboard/overview.html", "figures"), context)


@dashboard_view(VIEW_OVERVIEW)
def overview_machinery(request):
    """The "Workers and queues" panel alone, polled by the overview: two queries and the broker,
    not the whole page's. Without htmx there is nothing to swap: the overview shows the panel."""
    if not wants_fragment(request):
        return redirect(reverse("dashboard:overview") + "#machinery")
    return render(request, "dashboard/overview.html#machinery", {"machinery": machinery_snapshot(now=timezone.now())})


def now_context(*, now) -> dict:
    return {"summary": selectors.overview_summary(now=now), "runs_now": selectors.runs_now()}


@dashboard_view(VIEW_OVERVIEW)
def overview_now(request):
    """The counts and "running now" region alone, polled by the overview while a run is queued or
    running. Without htmx there is nothing to swap: the overview shows the region."""
    if not wants_fragment(request):
        return redirect(reverse("dashboard:overview") + "#now")
    return render(request, "dashboard/overview.html#now", now_context(now=timezone.now()))
