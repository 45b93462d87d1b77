"""Webhook pages: built on the webhooks app's own selectors, plus keyset paging of deliveries."""

import math
from datetime import datetime

from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from connections.models import Connection
from dashboard.selectors.charts import ChartRange
from dashboard.selectors.common import KeysetPage, keyset_page
from webhooks import selectors as webhook_selectors
from webhooks.models import Attempt, Delivery, Endpoint

ENDPOINTS_PER_PAGE = 50
# The delivery charts read at most this many of an endpoint's deliveries, the newest of the range.
CHART_DELIVERIES = 20_000
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


def percentile(values: list[int], fraction: float) -> int:
    """The nearest-rank percentile of sorted values (0 for none)."""
    if not values:
        return 0
    return values[max(0, min(len(values) - 1, math.ceil(len(values) * fraction) - 1))]


def endpoint_charts(*, endpoint: Endpoint, rng: ChartRange, now: datetime) -> dict:
    """Deliveries over the range's buckets (delivered, failed, pending) and the latency of
    their last try, p50 and p95. Percentiles need every latency, not sums, so this reads the
    deliveries themselves: one query on the (endpoint, created_at) index, the newest
    CHART_DELIVERIES at most (`capped` says so)."""
    starts = rng.starts(now)
    rows = list(Delivery.objects.filter(endpoint=endpoint, created_at__gte=starts[0],
                                        created_at__lt=starts[-1] + rng.bucket)
                .order_by("-created_at").values_list("created_at", "status", "last_latency_ms")[:CHART_DELIVERIES])
    buckets = [{"start": start, "total": 0, "failed": 0, "latencies": []} for start in starts]
    for created_at, status, latency in rows:
        bucket = buckets[int((created_at - starts[0]) // rng.bucket)]
        bucket["total"] += 1
        bucket["failed"] += status == Delivery.Status.FAILED
        if latency is not None:
            bucket["latencies"].append(latency)
    for bucket in buckets:
        bucket["latencies"].sort()
    return {
        "range": rng,
        "deliveries": [(b["start"], b["total"]) for b in buckets],
        "failed": [(b["start"], b["failed"]) for b in buckets],
        "p95": [(b["start"], percentile(b["latencies"], 0.95)) for b in buckets],
        "p50": [(b["start"], percentile(b["latencies"], 0.5)) for b in buckets],
        "capped": len(rows) == CHART_DELIVERIES, "limit": CHART_DELIVERIES,
        "oldest": rows[-1][0] if rows else None,
    }
