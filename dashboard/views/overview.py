from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from dashboard.selectors import overview as selectors
from dashboard.selectors.charts import RANGES, chart_range
from dashboard.views.common import VIEW_OVERVIEW, dashboard_view, template_for, wants_fragment
from syncs.machinery import machinery_snapshot


def charts_context(request, now) -> dict:
    """The charts over the range ?range= asks for (24h, 7d, 30d), and the range links."""
    return {"charts": selectors.run_charts(now=now, rng=chart_range(request.GET.get("range"))), "ranges": RANGES}


@dashboard_view(VIEW_OVERVIEW)
def overview(request):
    now = timezone.now()
    if wants_fragment(request) and request.htmx.target == "charts":
        # A range link swaps the charts alone: the rest of the figures need not be read again.
        return render(request, "dashboard/overview.html#charts", charts_context(request, now))
    context = {
        **now_context(now=now),
        **charts_context(request, now),
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
