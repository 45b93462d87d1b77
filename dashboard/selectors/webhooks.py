"""Webhook pages: built on the webhooks app's own selectors, plus keyset paging of deliveries."""

from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from connections.models import Connection
from dashboard.selectors.common import KeysetPage, keyset_page
from webhooks import selectors as webhook_selectors
from webhooks.models import Attempt, Delivery, Endpoint

ENDPOINTS_PER_PAGE = 50
# Counting an endpoint's deliveries stops here: the confirmation only needs "this many, or more".
DELETE_COUNT_LIMIT = 10_000


def endpoint_page(*, state: str = "", page: int | str = 1):
    endpoints = webhook_selectors.endpoint_list()
    if state == "enabled":
        endpoints = endpoints.filter(enabled=True, failing_since__isnull=True)
    elif state == "failing":
        endpoints = endpoints.filter(enabled=True, failing_since__isnull=False)
    elif state == "disabled":
        endpoints = endpoints.filter(enabled=False)
    return Paginator(endpoints, ENDPOINTS_PER_PAGE).get_page(page)


def endpoint_with_stats(*, endpoint_id: int) -> Endpoint:
    """The endpoint with its 24 h figures; its secrets stay deferred (never decrypted for a page)."""
    return get_object_or_404(webhook_selectors.endpoint_list(), pk=endpoint_id)


def endpoint_for_action(*, endpoint_id: int) -> Endpoint:
    return get_object_or_404(Endpoint.objects.select_related("connection"), pk=endpoint_id)


def scope_connection(*, connection_id) -> Connection | None:
    """The connection an "Add endpoint" link preselects; None for a missing or unknown id."""
    if connection_id is None:
        return None
    return (Connection.objects.select_related("customer").defer("credentials", "config", "metadata")
            .filter(pk=connection_id).first())


def endpoint_delete_impact(*, endpoint: Endpoint) -> dict:
    """How many deliveries (and pending ones) go with the endpoint, each count capped: two queries."""
    rows = Delivery.objects.filter(endpoint=endpoint)
    total = rows[:DELETE_COUNT_LIMIT + 1].count()
    pending = rows.filter(status=Delivery.Status.PENDING)[:DELETE_COUNT_LIMIT + 1].count()
    return {"deliveries": min(total, DELETE_COUNT_LIMIT), "pending": min(pending, DELETE_COUNT_LIMIT),
            "more": total > DELETE_COUNT_LIMIT, "more_pending": pending > DELETE_COUNT_LIMIT}


def deliveries(*, endpoint: Endpoint, status: str = "", cursor: str | None) -> KeysetPage:
    rows = (Delivery.objects.filter(endpoint=endpoint).select_related("event")
            .defer("event__payload").order_by("-created_at", "-id"))
    if status in Delivery.Status.values:
        rows = rows.filter(status=status)
    return keyset_page(rows, time_field="created_at", cursor=cursor)


def delivery_get(*, delivery_id: int) -> Delivery:
    """A delivery with its event, endpoint and every attempt (`attempt_list`, oldest first)."""
    return get_object_or_404(
        Delivery.objects.select_related("event__connection", "endpoint__connection")
        .defer("endpoint__secret", "endpoint__previous_secret", "event__connection__credentials",
               "endpoint__connection__credentials")
        .prefetch_related(Prefetch("attempt_set", queryset=Attempt.objects.order_by("number"), to_attr="attempt_list")),
        pk=delivery_id, endpoint__deleted_at__isnull=True)
