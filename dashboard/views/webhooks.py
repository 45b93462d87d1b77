"""Webhook pages: endpoints with their 24 h success rate, deliveries, attempts, and the buttons
Send test event, Resend, Replay failed since..., Rotate secret (shown once), Enable/Disable;
Add endpoint (its secret shown once), Edit and Delete (confirmed on a page of its own)."""

from datetime import timedelta

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_htmx.http import push_url

from core.errors import CatalogError
from dashboard.forms import DeliveryFilterForm, EndpointFilterForm, EndpointForm, parse_time
from dashboard.selectors import webhooks as selectors
from dashboard.selectors.charts import RANGES, chart_range
from dashboard.selectors.common import parse_uuid
from dashboard.selectors.connections import connection_scope_choices
from dashboard.views.common import (
    PERM_WEBHOOKS,
    VIEW_WEBHOOKS,
    Flash,
    action_view,
    actor_for,
    attempt,
    dashboard_view,
    flash_navigate,
    flash_redirect,
    no_store,
    require_perm,
    template_for,
    wants_fragment,
)
from webhooks import services as webhook_services
from webhooks.models import Delivery


@dashboard_view(VIEW_WEBHOOKS)
def endpoint_list(request):
    state = EndpointFilterForm(request.GET).values()["state"]
    context = {"page": selectors.endpoint_page(state=state, page=request.GET.get("page") or 1), "state": state,
               "states": ["enabled", "failing", "disabled"]}
    return render(request, template_for(request, "dashboard/webhooks/endpoints.html", "results"), context)


def charts_context(request, endpoint) -> dict:
    """Delivery success and latency over the range ?range= asks for (24h, 7d, 30d)."""
    rng = chart_range(request.GET.get("range"))
    return {"charts": selectors.endpoint_charts(endpoint=endpoint, rng=rng, now=timezone.now()), "ranges": RANGES}


def endpoint_context(request, endpoint_id: int, **extra) -> dict:
    status = DeliveryFilterForm(request.GET).values()["status"]
    endpoint = selectors.endpoint_with_stats(endpoint_id=endpoint_id)
    return {"endpoint": endpoint, "status": status, **charts_context(request, endpoint),
            "statuses": Delivery.Status.values,
            "deliveries": selectors.deliveries(endpoint=endpoint, status=status, cursor=request.GET.get("cursor")),
            "replay_since": timezone.now() - timedelta(hours=24), **extra}


@dashboard_view(VIEW_WEBHOOKS)
def endpoint_detail(request, endpoint_id):
    if wants_fragment(request) and request.htmx.target == "charts":
        # A range link swaps the charts alone.
        endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
        return render(request, "dashboard/webhooks/endpoint.html#charts",
                      {"endpoint": endpoint, **charts_context(request, endpoint)})
    partial = "deliveries" if wants_fragment(request) and request.htmx.target == "deliveries" else "endpoint"
    return render(request, template_for(request, "dashboard/webhooks/endpoint.html", partial),
                  endpoint_context(request, endpoint_id))


def _answer_endpoint(request, endpoint_id: int, flash: Flash):
    if request.htmx:
        return render(request, "dashboard/webhooks/endpoint.html#endpoint",
                      endpoint_context(request, endpoint_id, flash=flash))
    return flash_redirect(request, flash, reverse("dashboard:webhook", args=[endpoint_id]))


@action_view(PERM_WEBHOOKS, page=VIEW_WEBHOOKS)
def endpoint_test(request, endpoint_id):
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    flash = attempt(lambda: webhook_services.endpoint_send_test(endpoint=endpoint, actor=actor_for(request)),
                    ok_text="Test event queued; its delivery appears below within seconds.")
    return _answer_endpoint(request, endpoint.pk, flash)


@action_view(PERM_WEBHOOKS, page=VIEW_WEBHOOKS)
def endpoint_enable(request, endpoint_id):
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    flash = attempt(lambda: webhook_services.endpoint_enable(endpoint=endpoint, actor=actor_for(request)),
                    ok_text="Enabled. Failed deliveries stay failed: replay them if the receiver needs them.")
    return _answer_endpoint(request, endpoint.pk, flash)


@action_view(PERM_WEBHOOKS, page=VIEW_WEBHOOKS)
def endpoint_disable(request, endpoint_id):
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    flash = attempt(lambda: webhook_services.endpoint_disable(endpoint=endpoint, actor=actor_for(request),
                                                              reason=request.POST.get("reason", "").strip()),
                    ok_text="Disabled: no new deliveries are attempted until it is enabled again.")
    return _answer_endpoint(request, endpoint.pk, flash)


@action_view(PERM_WEBHOOKS, page=VIEW_WEBHOOKS)
def endpoint_replay(request, endpoint_id):
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    since = parse_time(request.POST.get("since"))
    if since is None:
        flash = Flash.from_error(CatalogError("VALIDATION_FAILED", "Give the time to replay failed deliveries from.",
                                              details={"fields": {"since": "required"}}))
    else:
        flash = attempt(lambda: webhook_services.deliveries_replay_failed_since(
            endpoint=endpoint, since=since, actor=actor_for(request)),
            ok_text=lambda n: (f"Replaying {n} failed deliver{'y' if n == 1 else 'ies'} "
                               f"since {since:%Y-%m-%d %H:%M} UTC."))
    return _answer_endpoint(request, endpoint.pk, flash)


@action_view(PERM_WEBHOOKS, page=VIEW_WEBHOOKS)
def endpoint_rotate_secret(request, endpoint_id):
    """The new secret is only in this response, so it is rendered, never redirected to."""
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    try:
        secret = webhook_services.endpoint_secret_rotate(endpoint=endpoint, actor=actor_for(request))
    except CatalogError as exc:
        return _answer_endpoint(request, endpoint.pk, Flash.from_error(exc))
    flash = Flash(level="success", text="New signing secret issued. The previous one keeps signing alongside it "
                  "for the rollover period, so receivers can switch without dropping events.")
    template = "dashboard/webhooks/endpoint.html#endpoint" if request.htmx else "dashboard/webhooks/endpoint.html"
    return no_store(render(request, template, endpoint_context(request, endpoint.pk, flash=flash, new_secret=secret)))


@dashboard_view(VIEW_WEBHOOKS)
def delivery_detail(request, delivery_id):
    delivery = selectors.delivery_get(delivery_id=delivery_id)
    template = template_for(request, "dashboard/webhooks/delivery.html", "delivery")
    return render(request, template, {"delivery": delivery})


@action_view(PERM_WEBHOOKS, page=VIEW_WEBHOOKS)
def delivery_resend(request, delivery_id):
    delivery = selectors.delivery_get(delivery_id=delivery_id)
    flash = attempt(lambda: webhook_services.delivery_resend(delivery=delivery, actor=actor_for(request)),
                    ok_text="Resend queued with a fresh retry schedule.")
    if request.htmx:
        return render(request, "dashboard/webhooks/delivery.html#delivery",
                      {"delivery": selectors.delivery_get(delivery_id=delivery_id), "flash": flash})
    return flash_redirect(request, flash, reverse("dashboard:delivery", args=[delivery_id]))


# --- add, edit, delete ---------------------------------------------------------------------------

FORM_PAGE = "dashboard/webhooks/endpoint_form.html"
INVALID = Flash(level="error", text="Some fields are invalid; see the form.", code="VALIDATION_FAILED")


def _form_page(request, form: EndpointForm, *, endpoint=None, flash: Flash | None = None):
    """The form page, or for htmx its `form` region (htmx swaps only 2xx answers); a refused
    plain POST answers 400."""
    status = 400 if request.method == "POST" and not request.htmx else 200
    return render(request, template_for(request, FORM_PAGE, "form"),
                  {"form": form, "endpoint": endpoint, "flash": flash}, status=status)


def _save(request, form: EndpointForm, save) -> tuple[object, Flash | None]:
    """Runs a create or update with the form's values; a refusal lands on the form and in the flash."""
    if not form.is_valid():
        return None, INVALID
    data = form.cleaned_data
    try:
        return save(url=data["url"], description=data["description"], event_types=data["event_types"],
                    connection=data["connection"], actor=actor_for(request)), None
    except CatalogError as exc:
        form.add_catalog_error(exc)
        return None, Flash.from_error(exc)


def _endpoint_page(request, endpoint_id: int, **extra):
    """The endpoint's page after a save: its region for htmx (the address bar follows), else in full."""
    template = "dashboard/webhooks/endpoint.html#endpoint" if request.htmx else "dashboard/webhooks/endpoint.html"
    response = render(request, template, endpoint_context(request, endpoint_id, **extra))
    if request.htmx:
        push_url(response, reverse("dashboard:webhook", args=[endpoint_id]))
    return response


@dashboard_view(VIEW_WEBHOOKS)
@require_http_methods(["GET", "POST"])
def endpoint_create(request):
    """Add endpoint. `?connection=<id>` (from a connection's page) preselects the scope. The new
    signing secret is in the POST's answer only: rendered, never redirected to, never cached."""
    require_perm(request, PERM_WEBHOOKS)
    if request.method != "POST":
        scope = selectors.scope_connection(connection_id=parse_uuid(request.GET.get("connection")))
        form = EndpointForm(initial={"connection": str(scope.pk) if scope else ""},
                            scope_choices=connection_scope_choices(include=scope))
        return _form_page(request, form)
    form = EndpointForm(request.POST, scope_choices=connection_scope_choices())
    created, flash = _save(request, form, webhook_services.endpoint_create)
    if created is None:
        return _form_page(request, form, flash=flash)
    endpoint, secret = created
    flash = Flash(level="success", text="Endpoint added. Copy its signing secret into the receiver now; events "
                  "start arriving with the next sync, or press Send test event to check it.")
    return no_store(_endpoint_page(request, endpoint.pk, flash=flash, new_secret=secret, new_endpoint=True))


@dashboard_view(VIEW_WEBHOOKS)
@require_http_methods(["GET", "POST"])
def endpoint_edit(request, endpoint_id):
    """URL, description, event types and scope; the signing secret stays as it is."""
    require_perm(request, PERM_WEBHOOKS)
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    choices = connection_scope_choices(include=selectors.scope_connection(connection_id=endpoint.connection_id))
    if request.method != "POST":
        form = EndpointForm(scope_choices=choices, initial={
            "url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types,
            "connection": str(endpoint.connection_id or "")})
        return _form_page(request, form, endpoint=endpoint)
    form = EndpointForm(request.POST, scope_choices=choices)
    saved, flash = _save(request, form, lambda **values: webhook_services.endpoint_update(endpoint=endpoint, **values))
    if saved is None:
        return _form_page(request, form, endpoint=endpoint, flash=flash)
    flash = Flash(level="success", text="Endpoint saved.")
    if request.htmx:
        return _endpoint_page(request, endpoint.pk, flash=flash)
    return flash_redirect(request, flash, reverse("dashboard:webhook", args=[endpoint.pk]))


@dashboard_view(VIEW_WEBHOOKS)
@require_http_methods(["GET", "POST"])
def endpoint_delete(request, endpoint_id):
    """GET asks for confirmation on a page of its own (it works without JavaScript); POST deletes
    and goes to the endpoint list (or `next`)."""
    require_perm(request, PERM_WEBHOOKS)
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    flash = None
    if request.method == "POST":
        url = endpoint.url
        flash = attempt(lambda: webhook_services.endpoint_delete(endpoint=endpoint, actor=actor_for(request)),
                        ok_text=f"Deleted the endpoint {url}. Nothing more is sent to it; its deliveries are "
                                "deleted in the background.")
        if flash.level == "success":
            return flash_navigate(request, flash, reverse("dashboard:webhooks"))
    context = {"endpoint": endpoint, "impact": selectors.endpoint_delete_impact(endpoint=endpoint), "flash": flash}
    return render(request, template_for(request, "dashboard/webhooks/endpoint_delete.html", "confirm"), context)
