import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from connections.models import Connection


class Mode(models.TextChoices):
    INCREMENTAL = "incremental"
    FULL = "full"


class Trigger(models.TextChoices):
    SCHEDULE = "schedule"
    DASHBOARD = "dashboard"
    API = "api"
    CLI = "cli"
    RETRY = "retry"


class Priority(models.IntegerChoices):
    # Someone is waiting on a manual run (dashboard, API, CLI, a retry pressed by hand); nobody
    # is waiting on a scheduled one, or on an automatic retry of one.
    SCHEDULED = 0, "scheduled"
    MANUAL = 10, "manual"


class SyncState(models.Model):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_states")
    entity = models.CharField(max_length=50)
    cursor = models.JSONField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    record_count = models.PositiveIntegerField(default=0)
    last_run = models.ForeignKey("SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error_code = models.CharField(max_length=50, blank=True)
    last_error_message = models.TextField(blank=True)
    # The change feed's counter (docs/api.md#the-change-feed): each transaction that changes
    # records of this entity takes the next number while holding this row, so numbers follow
    # commit order. change_at never goes backwards, whatever a worker's clock says.
    change_seq = models.BigIntegerField(default=0)
    change_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connection", "entity"]
        constraints = [models.UniqueConstraint(fields=["connection", "entity"],
                                               name="syncstate_connection_entity_uniq")]
        indexes = [models.Index(fields=["next_due_at"], name="syncstate_next_due_idx")]

    def __str__(self):
        return f"{self.connection_id}:{self.entity}"


class SyncRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
    COUNT_FIELDS = ("fetched", "created", "updated", "unchanged", "deleted", "failed_records")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_runs")
    entity = models.CharField(max_length=50)
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.INCREMENTAL)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.SCHEDULE)
    requested_by = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # Higher goes first; a running run gives its worker to a waiting run of higher priority
    # between pages (docs/architecture.md, "Priority and fair shares").
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.SCHEDULED)
    resumed_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cursor_from = models.JSONField(null=True, blank=True)
    cursor_to = models.JSONField(null=True, blank=True)
    checkpoint = models.JSONField(default=dict, blank=True)
    pages = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    failed_records = models.PositiveIntegerField(default=0)
    # The upstream's count of records for this read, when it reports one (Page.total): percent done.
    total_records = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    error_details = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    timeline = models.JSONField(default=list, blank=True)
    # 1 for a run someone asked for; n+1 for the automatic retry of a run that failed on try n.
    attempt = models.PositiveSmallIntegerField(default=1)
    # Set on every claim; a worker writes only while the run still holds its lease, so a worker
    # that lost the run (reaped as stalled, requeued) can no longer change it.
    lease = models.UUIDField(null=True, blank=True)
    # A queued run does not start before this (an automatic retry's backoff, an upstream's
    # Retry-After too long to sleep through); wait_reason says why, for people.
    not_before = models.DateTimeField(null=True, blank=True)
    wait_reason = models.CharField(max_length=200, blank=True)
    # When the run last joined the queue (created, yielded, requeued): runs of one priority
    # start in this order, so a run that yielded goes behind the ones it yielded to.
    ready_at = models.DateTimeField(default=timezone.now)
    # When its worker took it this time: how long it has held the slot, for fair shares.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # How many times it gave its worker to other work and went on later from its checkpoint.
    yields = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-queued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "entity"],
                condition=Q(status__in=["queued", "running"]),
                name="syncrun_one_active_per_connection_entity",
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "-queued_at"], name="syncrun_connection_queued_idx"),
            models.Index(fields=["status", "heartbeat_at"], name="syncrun_status_heartbeat_idx"),
            models.Index(fields=["-queued_at"], name="syncrun_queued_idx"),
            # The dispatcher's order among queued runs, and the per-connection count of running ones.
            models.Index(fields=["-priority", "ready_at"], condition=Q(status="queued"),
                         name="syncrun_dispatch_order_idx"),
            models.Index(fields=["connection"], condition=Q(status="running"), name="syncrun_running_idx"),
            # The few queued runs that gave their worker to a manual run: every claim looks for one
            # under the claim lock, so it must not scan the whole queue.
            models.Index(fields=["ready_at"], condition=Q(status="queued", claimed_at__isnull=False),
                         name="syncrun_preempted_idx"),
            # Retention keeps the latest run of each (connection, entity): one index probe per old run.
            models.Index(fields=["connection", "entity", "-queued_at"], name="syncrun_entity_latest_idx"),
        ]

    def __str__(self):
        return f"{self.entity} {self.mode} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def counts(self) -> dict:
        return {name: getattr(self, name) for name in self.COUNT_FIELDS}

    @property
    def percent_done(self) -> int | None:
        """How far the read is, when the upstream reported a total; None otherwise."""
        if not self.total_records:
            return None
        return min(100, self.fetched * 100 // self.total_records)

    @property
    def waiting(self) -> dict | None:
        """A queued run held back until a time, and why: what the run page and the API show."""
        if self.status == self.Status.QUEUED and self.not_before and self.not_before > timezone.now():
            return {"reason": self.wait_reason, "until": self.not_before}
        return None

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class Record(models.Model):
    # uuid5(connection, entity, remote_id): stable across re-syncs, so it is computed, not stored twice.
    id = models.UUIDField(primary_key=True, editable=False)
    # No index of its own: the unique constraint and the keyset index both lead with connection.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="records", db_index=False)
    entity = models.CharField(max_length=50)
    remote_id = models.CharField(max_length=200)
    data = models.JSONField(default=dict)
    raw = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=32)
    # blake2b of the mapping fingerprint and the raw JSON: a re-sync that finds it unchanged
    # skips normalize() (docs/architecture.md, "Sync semantics"). "": not known yet.
    input_hash = models.CharField(max_length=32, default="", db_default="", blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    modified_at = models.DateTimeField()
    # The position of the record's last change in its (connection, entity) change feed, with id
    # as the tie-break: every change of one transaction shares the number.
    change_seq = models.BigIntegerField(default=0, db_default=0)
    last_seen_run = models.UUIDField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "entity", "remote_id"],
                                    name="record_connection_entity_remote_uniq"),
        ]
        indexes = [
            models.Index(fields=["connection", "entity", "change_seq", "id"], name="record_change_feed_idx"),
        ]

    def __str__(self):
        return f"{self.entity}:{self.remote_id}"


class Incident(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    UNRESOLVED = (Status.OPEN, Status.ACKNOWLEDGED)

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="incidents")
    # "" for a connection-level failure (bad credentials, unreachable): one incident for the whole
    # connection, whose `entities` lists the entities it stopped (docs/architecture.md, "Incidents").
    entity = models.CharField(max_length=50, blank=True)
    error_code = models.CharField(max_length=50)
    # Sorted, each once: the entities that met a connection-level failure; [] for an entity's own.
    entities = models.JSONField(default=list, db_default=[], blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    occurrences = models.PositiveIntegerField(default=1)
    last_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.TextField(blank=True)
    acknowledged_by = models.CharField(max_length=200, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "entity", "error_code"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="incident_one_unresolved_per_code",
            ),
        ]
        indexes = [models.Index(fields=["status", "-last_seen"], name="incident_status_seen_idx")]

    def __str__(self):
        return f"{self.error_code} on {self.connection_id}:{self.entity}"


class WorkerHeartbeat(models.Model):
    """Written by a beat-scheduled task, so a fresh row proves both beat and a worker are alive."""

    hostname = models.CharField(max_length=200, primary_key=True)
    seen_at = models.DateTimeField()
    # Written by the worker itself (its pool size, and the tasks it is running); null on the rows
    # the beat-scheduled task writes.
    concurrency = models.PositiveSmallIntegerField(null=True, blank=True)
    busy = models.PositiveSmallIntegerField(null=True, blank=True)

    def __str__(self):
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class SeenPage(models.Model):
    """The record ids one page of a whole-window run saw, written with the page and its
    checkpoint. A full re-sync decides deletions from these rows, so it never rewrites a record
    that did not change (docs/architecture.md, "Sync semantics"). Deleted when the run succeeds
    or is cancelled; a failed run keeps them for the retry that resumes it with the same marker."""

    # The run's marker (its checkpoint's "marker"): shared by a run and the retries that resume it.
    marker = models.UUIDField()
    # 1, 2, ... in the order the run wrote them; the checkpoint counts them ("seen_pages").
    page = models.PositiveIntegerField()
    # No index: rows live only while their run does, and a connection's delete is rare.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+", db_index=False)
    entity = models.CharField(max_length=50)
    # The ids as 32 hex digits, the form both databases read back as a uuid.
    ids = models.JSONField(default=list)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["marker", "page"], name="seenpage_marker_page_uniq")]

    def __str__(self):
        return f"{self.marker} page {self.page}"


class RunFigures(models.Model):
    """What finished runs add up to, kept per hour by the rollups below."""

    runs = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    fetched = models.BigIntegerField(default=0)
    created = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    deleted = models.BigIntegerField(default=0)
    # Over the runs that succeeded only: a failed run's duration says when it broke, not how long a sync takes.
    duration_sum_ms = models.BigIntegerField(default=0)
    duration_max_ms = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class RunHourlyRollup(RunFigures):
    """What the runs of one (connection, entity) that finished in one UTC hour add up to: the
    charts read these instead of the runs (docs/architecture.md, "Charts and rollups"). Written
    by syncs/rollups.py as each run reaches its final state, one increment per run."""

    hour = models.DateTimeField()
    # No index of its own: the unique constraint leads with it.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+", db_index=False)
    entity = models.CharField(max_length=50)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "entity", "hour"],
                                               name="runrollup_conn_entity_hour_uniq")]
        # The overview's leaders: every connection's rows of the last 24 hours, read from the
        # index alone on PostgreSQL (SQLite ignores `include`: a plain index on hour there).
        indexes = [models.Index(fields=["hour"], include=["connection", "succeeded", "failed", "duration_sum_ms"],
                                name="runrollup_hour_idx")]

    def __str__(self):
        return f"{self.connection_id}:{self.entity} {self.hour:%Y-%m-%d %H:00}"


class RunHourlyTotal(RunFigures):
    """The same figures summed over every connection, one row per hour: the overview's charts
    and counts read at most 720 of these, however many runs and connections there are."""

    hour = models.DateTimeField(unique=True)

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H:00}"
