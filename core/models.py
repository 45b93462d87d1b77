"""The shared models: the audit log every app writes, and the API's admin keys, idempotency
records and rate-limit counters. The first three keep the table names they had in the connections
app (db_table), where they were created; core/migrations/0001_initial.py moved them without
touching the database."""

from django.conf import settings
from django.db import models


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
    connection = models.ForeignKey("connections.Connection", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="audit_events")
    request_id = models.CharField(max_length=100, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "connections_auditevent"
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
        db_table = "connections_apikey"
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
        db_table = "connections_idempotencykey"
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_uniq")]

    def __str__(self):
        return f"{self.scope}:{self.key}"


class RateLimitCounter(models.Model):
    """One token's API requests in one fixed one-minute window, counted here when no Redis is
    configured, so every web process shares one counter per token (core/api_ratelimit.py).
    Windows before the current one are deleted when a token's new window starts."""

    key = models.CharField(max_length=64, help_text="The start of the token's SHA-256 hash.")
    window_start = models.BigIntegerField(help_text="The window's first second, in seconds since the epoch.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="ratelimit_key_window_uniq")]
        indexes = [models.Index(fields=["window_start"], name="ratelimit_window_start_idx")]

    def __str__(self):
        return f"{self.key}@{self.window_start}: {self.count}"
