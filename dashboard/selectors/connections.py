"""Connections: the filtered list with per-row figures, and one connection's page."""

import json
from dataclasses import dataclass, field

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from connections.connectors.base import Connector
from connections.connectors.registry import connector_catalogue, connector_class
from connections.models import Connection, Customer
from core.errors import CatalogError
from core.models import AuditEvent
from dashboard.selectors.common import parse_id, parse_uuid
from syncs.models import Incident, SyncRun, SyncState

RECENT_RUNS = 15
CUSTOMER_SELECT_LIMIT = 300
SCOPE_SELECT_LIMIT = 300
# The list never needs these, and credentials would be decrypted row by row.
LIST_DEFER = ("credentials", "config", "metadata")


def connector_or_none(*, key: str) -> type[Connector] | None:
    """A connection's connector class, or None when its key is no longer in the code (the page
    still opens). Anything else, a connector module that fails to import say, is raised."""
    try:
        return connector_class(key)
    except CatalogError as error:
        # The registry's answer for an unknown key; it names the field in its details.
        if error.code == "VALIDATION_FAILED" and "connector" in error.details.get("fields", {}):
            return None
        raise


def connection_search(*, q: str = "", status: str = "", connector: str = "", customer: str = "") -> QuerySet:
    connections = Connection.objects.select_related("customer").defer(*LIST_DEFER).order_by("customer__name", "name",
                                                                                            "id")
    if q:
        match = Q(name__icontains=q) | Q(customer__name__icontains=q) | Q(token_prefix__startswith=q)
        if (pk := parse_uuid(q)) is not None:
            match |= Q(pk=pk)
        connections = connections.filter(match)
    if status:
        connections = connections.filter(status=status)
    if connector:
        connections = connections.filter(connector=connector)
    if (customer_id := parse_id(customer)) is not None:
        connections = connections.filter(customer_id=customer_id)
    elif customer:
        connections = connections.filter(customer__name__icontains=customer)
    return connections


def connection_rows_annotate(connections: list[Connection]) -> list[Connection]:
    """Adds last sync, failing entities, active runs and open incidents to one page: three queries."""
    ids = [c.pk for c in connections]
    states = {r["connection_id"]: r for r in SyncState.objects.filter(connection_id__in=ids).values("connection_id")
              .annotate(last_success_at=Max("last_success_at"), last_attempt_at=Max("last_attempt_at"),
                        failing=Count("id", filter=Q(consecutive_failures__gt=0))).order_by()}
    incidents = dict(Incident.objects.filter(connection_id__in=ids, status__in=Incident.UNRESOLVED)
                     .values_list("connection_id").annotate(n=Count("id")).order_by())
    active = dict(SyncRun.objects.filter(connection_id__in=ids, status__in=SyncRun.ACTIVE_STATUSES)
                  .values_list("connection_id").annotate(n=Count("id")).order_by())
    for c in connections:
        state = states.get(c.pk, {})
        c.last_success_at = state.get("last_success_at")
        c.last_attempt_at = state.get("last_attempt_at")
        c.failing_entities = state.get("failing", 0)
        c.open_incidents = incidents.get(c.pk, 0)
        c.active_runs = active.get(c.pk, 0)
    return connections


def connection_filter_choices() -> dict:
    """Filter options; customers as a select only while the list is short enough to read."""
    customers = list(Customer.objects.order_by("name").values_list("id", "name")[:CUSTOMER_SELECT_LIMIT + 1])
    return {
        "statuses": Connection.Status.values,
        "connectors": [(c["key"], c["name"]) for c in connector_catalogue()],
        "customers": customers if len(customers) <= CUSTOMER_SELECT_LIMIT else None,
    }


def connection_get(*, connection_id) -> Connection:
    return get_object_or_404(Connection.objects.select_related("customer"), pk=connection_id)


@dataclass
class EntityRow:
    entity: str
    enabled: bool
    state: SyncState | None
    active: SyncRun | None

    @property
    def last_run(self) -> SyncRun | None:
        return self.state.last_run if self.state else None


@dataclass
class ConnectionLive:
    """What the polled part of a connection page shows."""

    rows: list[EntityRow]
    recent_runs: list[SyncRun]
    active_runs: list[SyncRun] = field(default_factory=list)

    @property
    def any_active(self) -> bool:
        return bool(self.active_runs)


def connection_live(*, connection: Connection) -> ConnectionLive:
    """Entities with their state and active run, and the latest runs: three queries."""
    states = {s.entity: s for s in SyncState.objects.filter(connection=connection).select_related("last_run")
              .defer("last_run__timeline", "last_run__checkpoint", "last_run__error_details")}
    runs = list(SyncRun.objects.filter(connection=connection)
                .defer("timeline", "checkpoint", "error_details", "cursor_from", "cursor_to")
                .order_by("-queued_at")[:RECENT_RUNS])
    active = list(SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE_STATUSES)
                  .defer("timeline", "checkpoint", "error_details").order_by("queued_at"))
    active_by_entity = {r.entity: r for r in active}
    connector = connector_or_none(key=connection.connector)
    # A connector removed from the code: still show what the connection has.
    supported = list(connector.entities if connector else connection.entities)
    entities = supported + [e for e in states if e not in supported]
    rows = [EntityRow(entity=e, enabled=e in connection.entities, state=states.get(e), active=active_by_entity.get(e))
            for e in entities if e in connection.entities or e in states]
    return ConnectionLive(rows=rows, recent_runs=runs, active_runs=active)


class IncidentRows(list):
    """A connection's unresolved incidents, connection-level ones first (they stop every entity)."""

    @property
    def acknowledged(self) -> int:
        """Acknowledged ones are still open: someone is on them, nothing is fixed yet."""
        return sum(1 for i in self if i.status == Incident.Status.ACKNOWLEDGED)


def connection_incidents(*, connection: Connection) -> IncidentRows:
    rows = Incident.objects.filter(connection=connection, status__in=Incident.UNRESOLVED).order_by("-last_seen")
    return IncidentRows(sorted(rows, key=lambda incident: bool(incident.entity)))


def connection_audit(*, connection: Connection, limit: int = 10) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(connection=connection).order_by("-at", "-id")[:limit])


def connection_config_display(*, connection: Connection) -> list[tuple[str, str, object]]:
    """(name, label, value) of the config, with secret-kind fields masked; credentials never appear."""
    connector = connector_or_none(key=connection.connector)
    fields = {f.name: f for f in connector.config_fields} if connector else {}
    shown = []
    for name, value in sorted((connection.config or {}).items()):
        spec = fields.get(name)
        if spec is not None and spec.secret:
            value = "••••••"
        elif isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)
        shown.append((name, spec.label if spec else name, value))
    return shown


def connection_endpoints(*, connection: Connection) -> list:
    """Webhook endpoints that receive this connection's events: its own and the global ones."""
    from webhooks.selectors import endpoint_list

    return list(endpoint_list().filter(Q(connection=connection) | Q(connection__isnull=True))[:20])


def connection_disconnect_impact(*, connection: Connection) -> dict:
    """What a disconnect stops and what it keeps, for the confirmation page: three queries."""
    from webhooks.models import Endpoint

    return {
        "active_runs": SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE_STATUSES).count(),
        "records": SyncState.objects.filter(connection=connection).aggregate(n=Sum("record_count"))["n"] or 0,
        "endpoints": Endpoint.objects.filter(connection=connection).count(),
    }


def connection_scope_choices(*, include: Connection | None = None) -> list[tuple[str, str]] | None:
    """Connections an endpoint can be scoped to, as (id, "Customer / name") for a select; None
    when there are too many to read in one (the form asks for an id then). One query."""
    rows = list(Connection.objects.exclude(status=Connection.Status.DISCONNECTED)
                .order_by("customer__name", "name", "id").values_list("id", "customer__name", "name")
                [:SCOPE_SELECT_LIMIT + 1])
    if len(rows) > SCOPE_SELECT_LIMIT:
        return None
    choices = [(str(pk), f"{customer} / {name}") for pk, customer, name in rows]
    if include is not None and str(include.pk) not in {pk for pk, _ in choices}:
        choices.insert(0, (str(include.pk), f"{include.customer.name} / {include.name}"))
    return choices


PICK_LIMIT = 10


# The most connections a filter by name reads the runs or audit events of; a name matching more
# is refused by the filter forms (type more of it, or pick one).
MATCH_LIMIT = 500


def _named(q: str) -> QuerySet:
    return Connection.objects.filter(Q(name__icontains=q) | Q(customer__name__icontains=q)).values_list("pk", flat=True)


def connection_matches(*, q: str) -> list | QuerySet:
    """Connections whose name or customer's name contains `q`: the filters' "connection by name".
    Their ids, read first: PostgreSQL then reads each one's rows from the (connection, time)
    index, where a subquery had it hash a million runs (400 ms in bench_dashboard). Beyond
    MATCH_LIMIT, the subquery: slower, but never a truncated answer."""
    ids = list(_named(q)[:MATCH_LIMIT + 1])
    return ids if len(ids) <= MATCH_LIMIT else _named(q)


def connection_matches_too_many(*, q: str) -> bool:
    return _named(q)[MATCH_LIMIT:MATCH_LIMIT + 1].exists()


def connection_pick(*, q: str, limit: int = PICK_LIMIT) -> list[Connection]:
    """The picker's suggestions: at most `limit` connections matching by customer or name, customer
    first. One query, bounded by the limit, at any number of connections; a pasted id finds its
    connection too."""
    q = q.strip()
    if not q:
        return []
    match = Q(name__icontains=q) | Q(customer__name__icontains=q)
    if (pk := parse_uuid(q)) is not None:
        match |= Q(pk=pk)
    return list(Connection.objects.filter(match).select_related("customer")
                .only("id", "name", "status", "customer__name").order_by("customer__name", "name", "id")[:limit])


def connection_named(*, connection_id) -> Connection | None:
    """The connection a filter names by id, to show it by name; None when there is none."""
    if not connection_id:
        return None
    return (Connection.objects.select_related("customer").only("id", "name", "status", "customer__name")
            .filter(pk=connection_id).first())


def connection_picker(*, connection_id, q: str) -> dict:
    """What a filter form's connection picker shows: the chosen connection by name, or the box
    with what was typed and the connections it matches (so it works without JavaScript too)."""
    picked = connection_named(connection_id=connection_id)
    options = [] if picked else connection_pick(q=q, limit=PICK_LIMIT + 1)
    return {"picked": picked, "connection_q": "" if picked else q, "pick": options[:PICK_LIMIT],
            "pick_more": len(options) > PICK_LIMIT}


@dataclass(frozen=True)
class ConnectionHeader:
    active_runs: int
    last_success_at: object  # datetime | None
    last_attempt_at: object
    pending: bool = False  # not verified yet: its status is about to change

    @property
    def live(self) -> bool:
        """The header polls while a run is queued or running (runs are what change a connection's
        status: auth failed, unreachable, active again) or while the connection is still pending."""
        return bool(self.active_runs) or self.pending


def connection_header(*, connection: Connection) -> ConnectionHeader:
    """The header's last sync and whether a run moves: two queries."""
    times = SyncState.objects.filter(connection=connection).aggregate(
        last_success_at=Max("last_success_at"), last_attempt_at=Max("last_attempt_at"))
    active = SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE_STATUSES).count()
    return ConnectionHeader(active_runs=active, pending=connection.status == Connection.Status.PENDING, **times)
