"""Webhook pages: endpoints with their 24 h success rate, deliveries, attempts, and the buttons
Send test event, Resend, Replay failed since..., Rotate secret (shown once), Enable/Disable."""

from datetime import timedelta

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from config.errors import CatalogError
from dashboard.forms import parse_time
from dashboard.selectors import webhooks as selectors
from dashboard.views.common import (PERM_WEBHOOKS, Flash, action_view, actor_for, attempt, dashboard_view,
                                    flash_redirect, no_store, template_for, wants_fragment)
from webhooks import services as webhook_services
from webhooks.models import Delivery


@dashboard_view
def endpoint_list(request):
    state = request.GET.get("state", "")
    context = {"page": selectors.endpoint_page(state=state, page=request.GET.get("page") or 1), "state": state,
               "states": ["enabled", "failing", "disabled"]}
    return render(request, template_for(request, "dashboard/webhooks/endpoints.html", "results"), context)


def endpoint_context(request, endpoint_id: int, **extra) -> dict:
    status = request.GET.get("status", "")
    endpoint = selectors.endpoint_with_stats(endpoint_id=endpoint_id)
    return {"endpoint": endpoint, "status": status if status in Delivery.Status.values else "",
            "statuses": Delivery.Status.values,
            "deliveries": selectors.deliveries(endpoint=endpoint, status=status, cursor=request.GET.get("cursor")),
            "replay_since": timezone.now() - timedelta(hours=24), **extra}


@dashboard_view
def endpoint_detail(request, endpoint_id):
    partial = "deliveries" if wants_fragment(request) and request.htmx.target == "deliveries" else "endpoint"
    return render(request, template_for(request, "dashboard/webhooks/endpoint.html", partial),
                  endpoint_context(request, endpoint_id))


def _answer_endpoint(request, endpoint_id: int, flash: Flash):
    if request.htmx:
        return render(request, "dashboard/webhooks/endpoint.html#endpoint",
                      endpoint_context(request, endpoint_id, flash=flash))
    return flash_redirect(request, flash, reverse("dashboard:webhook", args=[endpoint_id]))


@action_view(PERM_WEBHOOKS)
def endpoint_test(request, endpoint_id):
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    flash = attempt(lambda: webhook_services.endpoint_send_test(endpoint=endpoint, actor=actor_for(request)),
                    ok_text="Test event queued; its delivery appears below within seconds.")
    return _answer_endpoint(request, endpoint.pk, flash)


@action_view(PERM_WEBHOOKS)
def endpoint_enable(request, endpoint_id):
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    flash = attempt(lambda: webhook_services.endpoint_enable(endpoint=endpoint, actor=actor_for(request)),
                    ok_text="Enabled. Failed deliveries stay failed: replay them if the receiver needs them.")
    return _answer_endpoint(request, endpoint.pk, flash)


@action_view(PERM_WEBHOOKS)
def endpoint_disable(request, endpoint_id):
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    flash = attempt(lambda: webhook_services.endpoint_disable(endpoint=endpoint, actor=actor_for(request),
                                                              reason=request.POST.get("reason", "").strip()),
                    ok_text="Disabled: no new deliveries are attempted until it is enabled again.")
    return _answer_endpoint(request, endpoint.pk, flash)


@action_view(PERM_WEBHOOKS)
def endpoint_replay(request, endpoint_id):
    endpoint = selectors.endpoint_for_action(endpoint_id=endpoint_id)
    since = parse_time(request.POST.get("since"))
    if since is None:
        flash = Flash.from_error(CatalogError("VALIDATION_FAILED", "Give the time to replay failed deliveries from.",
                                              details={"fields": {"since": "required"}}))
    else:
        flash = attempt(lambda: webhook_services.deliveries_replay_failed_since(
            endpoint=endpoint, since=since, actor=actor_for(request)),
            ok_text=lambda n: f"Replaying {n} failed deliver{'y' if n == 1 else 'ies'} since {since:%Y-%m-%d %H:%M} UTC.")
    return _answer_endpoint(request, endpoint.pk, flash)


@action_view(PERM_WEBHOOKS)
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


@dashboard_view
def delivery_detail(request, delivery_id):
    delivery = selectors.delivery_get(delivery_id=delivery_id)
    return render(request, template_for(request, "dashboard/webhooks/delivery.html", "delivery"), {"delivery": delivery})


@action_view(PERM_WEBHOOKS)
def delivery_resend(request, delivery_id):
    delivery = selectors.delivery_get(delivery_id=delivery_id)
    flash = attempt(lambda: webhook_services.delivery_resend(delivery=delivery, actor=actor_for(request)),
                    ok_text="Resend queued with a fresh retry schedule.")
    if request.htmx:
        return render(request, "dashboard/webhooks/delivery.html#delivery",
                      {"delivery": selectors.delivery_get(delivery_id=delivery_id), "flash": flash})
    return flash_redirect(request, flash, reverse("dashboard:delivery", args=[delivery_id]))
