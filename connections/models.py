import uuid

from django.conf import settings
from django.db import models

from connections.connectors.entities import ENTITIES
from connections.crypto import EncryptedJSONField


class Customer(models.Model):
    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=200, blank=True, null=True, unique=True,
                                   help_text="The company's own id for this customer.")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["name"], name="customer_name_idx")]

    def __str__(self):
        return self.name


def default_entities():
    return list(ENTITIES)


class Connection(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"
        AUTH_FAILED = "auth_failed"
        UNREACHABLE = "unreachable"
        PAUSED = "paused"
        DISCONNECTED = "disconnected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="connections")
    connector = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    config = models.JSONField(default=dict, blank=True)
    credentials = EncryptedJSONField(default=dict, blank=True)
    entities = models.JSONField(default=default_entities)
    sync_interval_minutes = models.PositiveIntegerField(default=60)
    history_days = models.PositiveIntegerField(default=90)
    metadata = models.JSONField(default=dict, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    token_prefix = models.CharField(max_length=16, blank=True, editable=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer__name", "name"]
        indexes = [
            models.Index(fields=["status"], name="connection_status_idx"),
            models.Index(fields=["connector"], name="connection_connector_idx"),
        ]
        permissions = [
            ("trigger_sync", "Can trigger, cancel and retry syncs"),
            ("manage_connection", "Can pause, resume, test and rotate tokens of connections"),
        ]

    def __str__(self):
        return f"{self.customer.name} / {self.name}"

    @property
    def is_schedulable(self) -> bool:
        return self.status == self.Status.ACTIVE


class AuditEvent(models.Model):
    """Who did what, from the dashboard, the API, the CLI or the system itself."""

    class Source(models.TextChoices):
        DASHBOARD = "dashboard"
        API = "api"
        CLI = "cli"
        ADMIN = "admin"
        SYSTEM = "system"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=200, help_text="A username, a token prefix or 'system'.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.SYSTEM)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="audit_events")
    request_id = models.CharField(max_length=100, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["connection", "-at"], name="audit_connection_at_idx")]

    def __str__(self):
        return f"{self.actor} {self.action} {self.target_type}:{self.target_id}"


class ApiKey(models.Model):
    """An admin key (`sk_...`) for API v1: manages connections and webhooks across customers.

    Only a SHA-256 hash and a visible prefix are stored; the key itself is shown once, by
    `create_admin_key` or the admin. Revoked keys stay for the audit trail.
    """

    name = models.CharField(max_length=200, help_text="Who or what uses this key, e.g. 'billing backend'.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API admin key"

    def __str__(self):
        return f"{self.name} ({self.key_prefix}...)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyKey(models.Model):
    """The stored answer to a POST sent with an Idempotency-Key, replayed for 24 hours.

    `scope` is who sent it (one token), so two clients never share keys; `request_hash` is a
    digest of method, path and body, so the same key with a different request is refused.
    """

    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    # The body exactly as first sent (text, not jsonb, which would reorder the keys).
    response_body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_uniq")]

    def __str__(self):
        return f"{self.scope}:{self.key}"
