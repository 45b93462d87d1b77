"""The audit log: who did what, from which surface, filterable and keyset paged."""

from dataclasses import dataclass
from datetime import datetime

from core.models import AuditEvent
from dashboard.selectors.common import KeysetPage, keyset_page
from dashboard.selectors.connections import connection_matches

# The actions the services write, offered as suggestions in the filter.
KNOWN_ACTIONS = (
    "connection.created", "connection.updated", "connection.paused", "connection.resumed", "connection.disconnected",
    "connection.status_changed", "connection.token_rotated", "connection.tested",
    "connection.credentials_rejected", "connector.tested",
    "sync.incremental_requested", "sync.full_requested", "sync.cancel_requested",
    "incident.acknowledged", "incident.resolved",
    "webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.deleted", "webhook_endpoint.enabled",
    "webhook_endpoint.disabled", "webhook_endpoint.secret_rotated", "webhook_endpoint.test_sent",
    "webhook_endpoint.replayed", "webhook_delivery.resent",
    "login.locked_out",
)


@dataclass(frozen=True)
class AuditFilters:
    source: str = ""
    action: str = ""
    actor: str = ""
    connection: object = None
    connection_q: str = ""
    request_id: str = ""
    since: datetime | None = None
    until: datetime | None = None

    @property
    def active(self) -> bool:
        return any((self.source, self.action, self.actor, self.connection, self.connection_q, self.request_id,
                    self.since, self.until))


def audit_list(*, filters: AuditFilters, cursor: str | None) -> KeysetPage:
    events = AuditEvent.objects.select_related("connection__customer").only(
        "id", "at", "actor", "source", "action", "target_type", "target_id", "request_id", "details",
        "connection_id", "connection__name", "connection__customer__name")
    if filters.source:
        events = events.filter(source=filters.source)
    if filters.action:
        # "sync." or "sync" matches the family; a full name matches exactly.
        family = filters.action.rstrip(".")
        events = events.filter(action=family) if "." in family else events.filter(action__startswith=family + ".")
    if filters.actor:
        events = events.filter(actor=filters.actor)
    if filters.connection:
        events = events.filter(connection_id=filters.connection)
    elif filters.connection_q:
        events = events.filter(connection_id__in=connection_matches(q=filters.connection_q))
    if filters.request_id:
        events = events.filter(request_id=filters.request_id)
    if filters.since:
        events = events.filter(at__gte=filters.since)
    if filters.until:
        events = events.filter(at__lt=filters.until)
    return keyset_page(events, time_field="at", cursor=cursor)


def audit_sources() -> list[str]:
    return list(AuditEvent.Source.values)
