"""Reads for the dashboard, the API and the admin. Each is a fixed, small number of queries."""

from datetime import timedelta

from django.db.models import Case, Count, F, FilteredRelation, FloatField, Prefetch, Q, QuerySet, When
from django.db.models.functions import Cast
from django.utils import timezone

from core.errors import CatalogError
from webhooks.models import Attempt, Delivery, Endpoint, Event

SUCCESS_WINDOW = timedelta(hours=24)


def endpoint_list(*, connection=None, enabled: bool | None = None) -> QuerySet[Endpoint]:
    """Endpoints with the last 24 h of deliveries counted, in one query.

    Annotations: deliveries_24h, succeeded_24h, failed_24h, pending_24h, and success_rate_24h
    (succeeded / finished, None when nothing finished). The time condition sits in the JOIN,
    so only recent deliveries are read, through the (endpoint, created_at) index.
    """
    since = timezone.now() - SUCCESS_WINDOW
    # The secrets are deferred: a list has no use for them and would decrypt each one.
    endpoints = (Endpoint.objects.select_related("connection__customer").defer("secret", "previous_secret")
                 .annotate(recent=FilteredRelation("deliveries", condition=Q(deliveries__created_at__gte=since)))
                 .annotate(deliveries_24h=Count("recent"),
                           succeeded_24h=Count("recent", filter=Q(recent__status=Delivery.Status.SUCCEEDED)),
                           failed_24h=Count("recent", filter=Q(recent__status=Delivery.Status.FAILED)),
                           pending_24h=Count("recent", filter=Q(recent__status=Delivery.Status.PENDING)))
                 .order_by("-created_at", "-id"))
    if connection is not None:
        endpoints = endpoints.filter(connection=connection)
    if enabled is not None:
        endpoints = endpoints.filter(enabled=enabled)
    finished = F("succeeded_24h") + F("failed_24h")
    return endpoints.annotate(success_rate_24h=Case(
        When(Q(succeeded_24h__gt=0) | Q(failed_24h__gt=0), then=Cast("succeeded_24h", FloatField()) / finished),
        default=None, output_field=FloatField()))


def endpoint_get(*, endpoint_id: int) -> Endpoint:
    endpoint = Endpoint.objects.select_related("connection").filter(pk=endpoint_id).first()
    if endpoint is None:
        raise CatalogError("NOT_FOUND", f"No webhook endpoint {endpoint_id}.")
    return endpoint


def delivery_list(*, endpoint: Endpoint, status: str | None = None) -> QuerySet[Delivery]:
    """Newest first; slice it to paginate. Unknown statuses are a validation error."""
    deliveries = Delivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-created_at", "-id")
    if status:
        if status not in Delivery.Status.values:
            raise CatalogError("VALIDATION_FAILED", f"Unknown delivery status {status!r}.",
                               details={"status": status, "allowed": list(Delivery.Status.values)})
        deliveries = deliveries.filter(status=status)
    return deliveries


def delivery_detail(*, delivery_id: int) -> Delivery:
    """A delivery with its event, endpoint and attempts (`attempt_list`, oldest first): three queries."""
    delivery = (Delivery.objects.select_related("event", "endpoint")
                .prefetch_related(Prefetch("attempt_set", queryset=Attempt.objects.order_by("number"),
                                           to_attr="attempt_list"))
                .filter(pk=delivery_id, endpoint__deleted_at__isnull=True).first())
    if delivery is None:
        raise CatalogError("NOT_FOUND", f"No webhook delivery {delivery_id}.")
    return delivery


def event_list(*, connection=None, type: str | None = None) -> QuerySet[Event]:
    events = Event.objects.order_by("-created_at")
    if connection is not None:
        events = events.filter(connection=connection)
    if type:
        events = events.filter(type=type)
    return events
