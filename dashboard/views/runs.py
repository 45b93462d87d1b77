"""Sync runs: the filtered list, one run's detail, Retry."""

from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from core.errors import CatalogError
from dashboard.forms import RunFilterForm
from dashboard.selectors import runs as selectors
from dashboard.selectors.connections import connection_picker
from dashboard.views.common import (
    PERM_SYNC,
    VIEW_RUNS,
    Flash,
    action_view,
    actor_for,
    dashboard_view,
    flash_redirect,
    template_for,
)
from syncs import services as sync_services
from syncs.models import SyncRun


@dashboard_view(VIEW_RUNS)
def run_list(request):
    form = RunFilterForm(request.GET)
    filters = selectors.RunFilters(**form.values())
    page = selectors.run_list(filters=filters, cursor=request.GET.get("cursor"))
    picker = connection_picker(connection_id=filters.connection, q=filters.connection_q)
    # The results poll (with the same query, so filters and page stay) while a listed run moves.
    context = {"page": page, "filters": filters, "form": form, "choices": selectors.run_filter_choices(),
               "filter_connection": picker["picked"], "picker": picker,
               "polling": selectors.runs_any_active(page.rows)}
    return render(request, template_for(request, "dashboard/runs.html", "results"), context)


def run_context(run: SyncRun, **extra) -> dict:
    return {"run": run, **selectors.run_related(run=run), **extra}


@dashboard_view(VIEW_RUNS)
def run_detail(request, run_id):
    run = selectors.run_get(run_id=run_id)
    return render(request, template_for(request, "dashboard/run.html", "run"), run_context(run))


def answer_run(request, run: SyncRun, flash: Flash, *, new_run: SyncRun | None = None):
    if request.htmx:
        run = selectors.run_get(run_id=run.pk)
        return render(request, "dashboard/run.html#run", run_context(run, flash=flash, new_run=new_run))
    return flash_redirect(request, flash, reverse("dashboard:run", args=[(new_run or run).pk]))


@action_view(PERM_SYNC, page=VIEW_RUNS)
def run_retry(request, run_id):
    """Queues the same entity and mode again; it resumes from this run's checkpoint when it can."""
    run = get_object_or_404(SyncRun.objects.select_related("connection__customer"), pk=run_id)
    try:
        triggered = sync_services.sync_run_retry(run=run, actor=actor_for(request))
    except CatalogError as exc:
        return answer_run(request, run, Flash.from_error(exc))
    text = ("Retry queued" + (" (resuming from this run's checkpoint)." if triggered.run.resumed_from_id == run.pk
                              else ".")) if triggered.created else "A run of this entity is already active."
    flash = Flash(level="success", text=text)
    if request.htmx:
        return answer_run(request, run, flash, new_run=triggered.run)
    return flash_redirect(request, flash, reverse("dashboard:run", args=[triggered.run.pk]))
