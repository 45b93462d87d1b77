"""Bulk test data for the dashboard: many rows cheaply (bulk_create), for query-count tests."""

import uuid
from datetime import timedelta

from django.contrib.auth.models import Permission
from django.utils import timezone

from connections.models import Connection, Customer
from core.audit import Actor, audit_record
from syncs.models import Incident, Record, SyncRun, SyncState
from syncs.rollups import rollup_add
from tests.syncs.factories import sandbox_connection

# Headers of an htmx request (the HX-Request header as the test client spells it).
HTMX = {"HTTP_HX_REQUEST": "true"}
# What every dashboard page needs to be read (dashboard/views/common.py: VIEW_*), besides is_staff.
VIEW_PERMISSIONS = ("connections.view_connection", "syncs.view_syncrun", "syncs.view_incident",
                    "core.view_auditevent", "webhooks.view_endpoint", "webhooks.view_delivery", "syncs.view_record")
OPERATOR_PERMISSIONS = VIEW_PERMISSIONS + ("connections.trigger_sync", "connections.manage_connection",
                                           "webhooks.change_endpoint")


def grant(user, *perms: str):
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return user


def idle_connection(**kwargs) -> Connection:
    """A sandbox connection made by the real service, with its initial runs already finished."""
    connection = sandbox_connection(**kwargs)
    now = timezone.now()
    SyncRun.objects.filter(connection=connection).update(status=SyncRun.Status.SUCCEEDED, started_at=now,
                                                         finished_at=now, fetched=20, created=20)
    for run in SyncRun.objects.filter(connection=connection):
        SyncState.objects.filter(connection=connection, entity=run.entity).update(
            last_run=run, last_success_at=now, record_count=20)
    return connection


def runs(connection, n: int, *, status: str = SyncRun.Status.SUCCEEDED, entity: str = "vendors",
         error_code: str = "", trigger: str = "schedule", ago=timedelta(hours=1)) -> list[SyncRun]:
    now = timezone.now()
    made = [SyncRun(connection=connection, entity=entity, status=status, trigger=trigger, error_code=error_code,
                    error_message=f"failed: {error_code}" if error_code else "", fetched=10 + i, created=i,
                    started_at=now - ago, finished_at=now - ago + timedelta(seconds=5 + i % 30),
                    timeline=[{"at": now.isoformat(), "event": "queued"}]) for i in range(n)]
    SyncRun.objects.bulk_create(made)
    # queued_at is auto_now_add: spread it so keyset pages and charts have distinct times.
    for i, run in enumerate(made):
        SyncRun.objects.filter(pk=run.pk).update(queued_at=now - ago - timedelta(seconds=i))
        rollup_add(run=run)  # as the run's final transaction does (syncs/outcomes.py)
    return made


def connections(n: int, *, status: str = Connection.Status.ACTIVE, customers: int = 1) -> list[Connection]:
    made_customers = Customer.objects.bulk_create([Customer(name=f"Bulk customer {i}") for i in range(customers)])
    made = Connection.objects.bulk_create([
        Connection(customer=made_customers[i % customers], connector="sandbox", name=f"Bulk connection {i:03d}",
                   status=status, config={"seed": i}, credentials={"api_key": "bulk-secret"},
                   token_prefix=f"ctk_{i:08d}") for i in range(n)])
    SyncState.objects.bulk_create([SyncState(connection=c, entity="vendors", last_success_at=timezone.now())
                                   for c in made])
    return made


def incidents(connections_, *, error_code: str = "UPSTREAM_SERVER_ERROR", entity: str = "vendors",
              status: str = Incident.Status.OPEN, last_run=None, entities: list[str] | None = None) -> list[Incident]:
    """`entities`: the entities a connection-level incident (entity "") stopped."""
    now = timezone.now()
    return Incident.objects.bulk_create([
        Incident(connection=c, entity=entity, error_code=error_code, status=status, first_seen=now - timedelta(hours=2),
                 last_seen=now, occurrences=3, message=f"{error_code} on {c.name}", last_run=last_run,
                 entities=entities or [])
        for c in connections_])


def auth_incident(connection, *, entities=("assets", "vendors"), status: str = Incident.Status.OPEN) -> Incident:
    """One connection-level incident: bad credentials that stopped `entities`."""
    return incidents([connection], error_code="UPSTREAM_AUTHENTICATION_FAILED", entity="", status=status,
                     entities=list(entities))[0]


def audit_events(n: int, *, connection=None, actor: str = "ops", action: str = "connection.updated") -> None:
    for i in range(n):
        audit_record(actor=Actor(name=actor, source="dashboard", request_id=f"req_bulk{i:06d}"), action=action,
                     target=connection, connection=connection, details={"i": i})


def records(connection, n: int, *, entity: str = "purchase_orders", start=None, step=timedelta(minutes=1),
            same_position: int = 1, prefix: str = "45000") -> list[Record]:
    """`n` records as a sync leaves them: numbers `<prefix>00000`, `<prefix>00001`..., changed
    `step` apart from `start` (default: a day ago), `same_position` records per feed position
    (one transaction's changes share it, and its time)."""
    start = start or timezone.now() - timedelta(days=1)
    made = []
    for i in range(n):
        position = i // same_position
        remote_id = f"R{i}"
        made.append(Record(
            id=uuid.uuid5(connection.pk, f"{entity}:{remote_id}"), connection=connection, entity=entity,
            remote_id=remote_id, data={"remote_id": remote_id, "number": f"{prefix}{i:05d}", "name": f"Order {i}",
                                       "lines": [{"line_number": 10, "quantity": "2"}]},
            raw={"EBELN": f"{prefix}{i:05d}", "NOTE": "<b>bold</b>"}, content_hash=f"h{i}",
            modified_at=start + step * position, change_seq=position + 1))
    return Record.objects.bulk_create(made)


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()
