"""A connection's life as the platform sees it: created with its first full sync, edited,
paused, resumed, disconnected, deleted, and its status changed with audit and webhook event.

These writes span apps (a connection, its sync states and runs, webhook events), so they live
here, above connections and webhooks, rather than in the connections app reaching up
(docs/architecture.md, "Where things live"). The checks they rely on are in connections/services.py.
"""

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from connections.connectors.registry import connector_class
from connections.models import Connection, Customer
from connections.services import (
    connection_entities_validate,
    connection_json_check,
    connection_numbers_validate,
    connection_require_connected,
    connection_settings_check,
    connection_token_issue,
    customer_get_or_create,
)
from core.audit import Actor, audit_record
from syncs.connection_status import connection_set_status
from syncs.dispatch import next_due_after
from syncs.models import Mode, SyncRun, SyncState
from syncs.services import sync_run_cancel, sync_trigger


def connection_create(*, customer_name: str, customer_external_id: str | None = None, connector: str, name: str,
                      config: dict | None = None, credentials: dict | None = None, entities: list[str] | None = None,
                      sync_interval_minutes: int = 60, history_days: int = 90, metadata: dict | None = None,
                      actor: Actor, verify: bool = True, customer: Customer | None = None,
                      within: Callable[[Connection], None] | None = None) -> tuple[Connection, str]:
    """Validates, checks the credentials upstream, then in one transaction finds or makes the
    customer (or takes `customer`), saves the connection, issues its token and queues the initial
    full sync. `within(connection)` runs last in that transaction (a connect link is spent there,
    syncs/connect_links.py): what it raises undoes the rest. A refusal leaves nothing behind, not
    even the customer. Returns the connection and its token (shown once)."""
    connection_json_check(config=config, credentials=credentials, metadata=metadata)
    credentials = credentials or {}
    config, entities = connection_settings_check(
        connector=connector, config=config or {}, credentials=credentials, entities=entities,
        sync_interval_minutes=sync_interval_minutes, history_days=history_days, verify=verify)
    with transaction.atomic():
        customer = customer or customer_get_or_create(name=customer_name, external_id=customer_external_id)
        connection, token = _connection_save(
            customer=customer, connector=connector, name=name, config=config, credentials=credentials,
            entities=entities, sync_interval_minutes=sync_interval_minutes, history_days=history_days,
            metadata=metadata or {}, actor=actor, verified=verify)
        if within is not None:
            within(connection)
        return connection, token


def _connection_save(*, customer: Customer, connector: str, name: str, config: dict, credentials: dict,
                     entities: list[str], sync_interval_minutes: int, history_days: int, metadata: dict,
                     actor: Actor, verified: bool) -> tuple[Connection, str]:

    connection = Connection.objects.create(
        customer=customer, connector=connector, name=name, config=config, credentials=credentials,
        entities=entities, sync_interval_minutes=sync_interval_minutes, history_days=history_days,
        metadata=metadata, status=Connection.Status.ACTIVE if verified else Connection.Status.PENDING,
        status_reason="credentials verified" if verified else "created; credentials not yet verified",
        status_changed_at=timezone.now())
    token = connection_token_issue(connection=connection)
    next_due = next_due_after(connection_id=connection.pk, interval_minutes=sync_interval_minutes,
                              after=timezone.now())
    SyncState.objects.bulk_create([SyncState(connection=connection, entity=e, next_due_at=next_due) for e in entities])
    audit_record(actor=actor, action="connection.created", target=connection, connection=connection,
                 details={"connector": connector, "token_prefix": connection.token_prefix})
    sync_trigger(connection=connection, mode=Mode.FULL, trigger=_trigger_for(actor), requested_by=actor.name,
                 request_id=actor.request_id)
    return connection, token


def _trigger_for(actor: Actor) -> str:
    # Support staff in the admin act like ops in the dashboard; only the system itself schedules.
    return {"dashboard": "dashboard", "admin": "dashboard", "api": "api", "cli": "cli"}.get(actor.source, "schedule")


def connection_update(*, connection: Connection, actor: Actor, name: str | None = None,
                      sync_interval_minutes: int | None = None, history_days: int | None = None,
                      entities: list[str] | None = None, config: dict | None = None,
                      credentials: dict | None = None, metadata: dict | None = None) -> Connection:
    """Edits settings; new credentials are checked upstream first and, if good, lift
    auth_failed (or pending). Nothing changes, in memory or stored, when a check fails."""

    connection_require_connected(connection=connection)
    connection_json_check(config=config, credentials=credentials, metadata=metadata)
    cls = connector_class(connection.connector)
    new_credentials = connection.credentials if credentials is None else credentials
    new_config = connection.config
    if config is not None or credentials is not None:
        new_config = cls.validate(config={**connection.config, **(config or {})}, credentials=new_credentials)
    # `is None`, not `or`: a 0 given is a value to refuse, not an absent one.
    interval = connection.sync_interval_minutes if sync_interval_minutes is None else sync_interval_minutes
    connection_numbers_validate(sync_interval_minutes=interval,
                                history_days=connection.history_days if history_days is None else history_days)
    new_entities = None if entities is None else connection_entities_validate(supported=cls.entities,
                                                                              entities=entities)
    if credentials is not None:
        # Outside the transaction: an upstream call must not hold database locks while it waits.
        cls(config=new_config, credentials=new_credentials).check()
    with transaction.atomic():
        changed = _connection_apply(connection=connection, config=new_config, credentials=credentials,
                                    entities=new_entities, name=name, sync_interval_minutes=sync_interval_minutes,
                                    history_days=history_days, metadata=metadata)
        if credentials is not None and connection.status in (Connection.Status.AUTH_FAILED,
                                                             Connection.Status.PENDING):
            connection_set_status(connection=connection, status=Connection.Status.ACTIVE,
                                  reason="credentials updated")
        audit_record(actor=actor, action="connection.updated", target=connection, connection=connection,
                     details={k: (v if k not in ("credentials", "config") else "changed") for k, v in changed.items()})
    return connection


def _connection_apply(*, connection: Connection, config, credentials, entities, **fields) -> dict:

    changed = {}
    if config != connection.config:
        connection.config, changed["config"] = config, True
    if credentials is not None:
        connection.credentials, changed["credentials"] = credentials, True
    for field, value in fields.items():
        if value is not None and value != getattr(connection, field):
            setattr(connection, field, value)
            changed[field] = value
    if entities is not None:
        connection.entities = changed["entities"] = entities
        for entity in entities:
            SyncState.objects.get_or_create(connection=connection, entity=entity,
                                            defaults={"next_due_at": timezone.now()})
    connection.save()
    return changed


def _cancel_active_runs(*, connection: Connection, actor: Actor) -> int:

    runs = list(SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE_STATUSES))
    for run in runs:
        sync_run_cancel(run=run, actor=actor)
    return len(runs)


@transaction.atomic
def connection_pause(*, connection: Connection, actor: Actor, reason: str = "") -> Connection:
    """Stops scheduling and cancels queued runs (running ones stop at their next page)."""
    connection_require_connected(connection=connection)
    if connection.status == Connection.Status.PAUSED:
        return connection
    connection.paused_at = timezone.now()
    connection.save(update_fields=["paused_at", "updated_at"])
    connection_set_status(connection=connection, status=Connection.Status.PAUSED,
                          reason=reason or f"paused by {actor.name}")
    cancelled = _cancel_active_runs(connection=connection, actor=actor)
    audit_record(actor=actor, action="connection.paused", target=connection, connection=connection,
                 details={"cancelled_runs": cancelled, "reason": reason})
    return connection


@transaction.atomic
def connection_resume(*, connection: Connection, actor: Actor) -> Connection:

    connection_require_connected(connection=connection)
    if connection.status != Connection.Status.PAUSED:
        return connection
    connection.paused_at = None
    connection.save(update_fields=["paused_at", "updated_at"])
    connection_set_status(connection=connection, status=Connection.Status.ACTIVE, reason=f"resumed by {actor.name}")
    # Due now: the scheduler's next tick catches up on what the pause skipped.
    SyncState.objects.filter(connection=connection).update(next_due_at=timezone.now())
    audit_record(actor=actor, action="connection.resumed", target=connection, connection=connection)
    return connection


@transaction.atomic
def connection_disconnect(*, connection: Connection, actor: Actor) -> Connection:
    """Revokes the token and stops schedules; the synced data stays until the connection is deleted."""
    if connection.status == Connection.Status.DISCONNECTED:
        return connection
    connection.disconnected_at = timezone.now()
    connection.token_hash = None
    connection.save(update_fields=["disconnected_at", "token_hash", "updated_at"])
    connection_set_status(connection=connection, status=Connection.Status.DISCONNECTED,
                          reason=f"disconnected by {actor.name}")
    _cancel_active_runs(connection=connection, actor=actor)
    audit_record(actor=actor, action="connection.disconnected", target=connection, connection=connection)
    return connection


@transaction.atomic
def connection_delete(*, connection: Connection, actor: Actor) -> None:
    """Cancels active runs, then deletes the connection, its records, runs, states, incidents and
    connection-scoped webhook endpoints. Webhook events and audit events stay (unlinked)."""
    _cancel_active_runs(connection=connection, actor=actor)
    audit_record(actor=actor, action="connection.deleted", target=connection,
                 details={"name": connection.name, "connector": connection.connector,
                          "customer_id": connection.customer_id, "token_prefix": connection.token_prefix})
    connection.delete()
