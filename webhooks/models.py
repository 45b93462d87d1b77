"""Outbound webhooks (docs/webhooks.md): endpoints, the event outbox, deliveries and attempts.

The database is the source of truth for delivery: a Delivery row says what is owed to whom
and when the next try is due; Celery messages only wake a worker up, so a lost message delays
a delivery (the sweeper re-enqueues it) but never loses it.
"""

import uuid

from django.db import models

from connections.crypto import EncryptedJSONField
from connections.models import Connection


class LiveEndpointManager(models.Manager):
    """Endpoints not deleted. Deleting marks the row and its history goes in the background
    (docs/architecture.md#retention), so every list, count and lookup through `objects` must
    already act as if it were gone; `all_objects` still sees it, for the purge."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Endpoint(models.Model):
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    # The signing secrets ("whsec_<base64>") are JSON strings under Fernet; the clear value is
    # returned once by the service that creates or rotates it and never shown again.
    secret = EncryptedJSONField()
    previous_secret = EncryptedJSONField(null=True, blank=True)
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Until then deliveries are signed with both secrets (rotation).")
    event_types = models.JSONField(default=list, blank=True, help_text="Empty means every event type.")
    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="webhook_endpoints",
                                   help_text="Only this connection's events; empty means all connections.")
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    # First failure since the last success; the sweeper disables endpoints failing for too long.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Set by endpoint_delete; the row itself goes once its deliveries and attempts are deleted.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    all_objects = models.Manager()
    objects = LiveEndpointManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # Lists and lookups see live endpoints; related lookups (delivery.endpoint) and cascades
        # still reach a deleted one.
        default_manager_name = "objects"
        base_manager_name = "all_objects"
        indexes = [models.Index(fields=["enabled", "connection"], name="whendpoint_enabled_idx")]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class Event(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=100)
    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="webhook_events")
    # Exactly what receivers get as the request body: {"id", "type", "created_at", "connection_id", "data"}.
    payload = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["connection", "-created_at"], name="whevent_conn_created_idx")]

    def __str__(self):
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="HTTP tries in all, across resends.")
    chain_attempts = models.PositiveIntegerField(
        default=0, help_text="Tries since the delivery was created or last resent; indexes the retry schedule.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When the next try is due (pending only).")
    # A worker holds a delivery while it tries it, so a duplicate message cannot send it twice.
    locked_until = models.DateTimeField(null=True, blank=True)
    # When the newest broker message for this delivery is due to run (null: none sent, the
    # sweeper enqueues it when due). Lets the sweeper tell a lost message from a queued one.
    queued_for = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="whdelivery_event_endpoint_uniq")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="whdelivery_status_next_idx"),
            models.Index(fields=["endpoint", "-created_at"], name="whdelivery_endpoint_crtd_idx"),
            models.Index(fields=["endpoint", "status", "-created_at"], name="whdelivery_endp_status_idx"),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self):
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class Attempt(models.Model):
    RESPONSE_SNIPPET_BYTES = 4096

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    remote_address = models.CharField(max_length=64, blank=True, help_text="The IP address actually connected to.")
    response_snippet = models.TextField(blank=True, help_text="The first 4 KB of the response body.")
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="whattempt_delivery_number_uniq")]
        indexes = [models.Index(fields=["-at"], name="whattempt_at_idx")]

    def __str__(self):
        return f"#{self.number} {self.status_code or self.error[:40]}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error
