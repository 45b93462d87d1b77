import uuid

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
    # The OAuth2 access token of the upstream ({access_token, expires_at, key}), shared by every
    # worker so they do not each fetch one (connections/connectors/auth.py).
    upstream_token = EncryptedJSONField(null=True, blank=True, default=None, editable=False)
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


class UpstreamRequestWindow(models.Model):
    """Requests sent to one connection's upstream system in one minute: the request budget's
    counter when there is no Redis (connections/connectors/budget.py). No foreign key: a window
    is a counter, keyed by the connection id, and old windows are deleted as new ones open."""

    connection_id = models.UUIDField()
    minute = models.BigIntegerField()  # Unix time // 60
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection_id", "minute"], name="upstream_window_unique")]

    def __str__(self):
        return f"{self.connection_id} @ {self.minute}: {self.count}"


class ConnectLink(models.Model):
    """A link the company sends its customer, who connects their own system on the page behind
    it (docs/connect-links.md). Its token is shown once and stored hashed, like a connection's;
    the link is spent once a connection is created through it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="connect_links")
    connectors = models.JSONField(help_text="The connector keys the customer may pick from.")
    entities = models.JSONField(default=list, blank=True, help_text="Entities to sync; empty: all the connector has.")
    redirect_url = models.CharField(max_length=2000, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=16, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    connection = models.ForeignKey(Connection, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="connect_links")
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.customer.name} / {self.token_prefix}"

    def state(self, now) -> str:
        """active, used, revoked or expired: for staff only, never for the page at the link."""
        if self.revoked_at:
            return "revoked"
        if self.used_at:
            return "used"
        return "expired" if self.expires_at <= now else "active"
