"""Failures: unresolved incidents grouped by connection and error code."""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.paginator import Paginator
from django.db.models import Count, Max, Min, Q, Sum

from connections.models import Connection
from dashboard.selectors.connections import connection_matches
from syncs.models import Incident

GROUPS_PER_PAGE = 50


@dataclass
class IncidentGroup:
    connection: Connection
    error_code: str
    first_seen: datetime
    last_seen: datetime
    occurrences: int
    incidents: list[Incident] = field(default_factory=list)

    @property
    def entities(self) -> list[str]:
        """The entities the group stopped: a connection-level incident lists its own."""
        return sorted({e for i in self.incidents for e in ([i.entity] if i.entity else i.entities)})

    @property
    def connection_level(self) -> bool:
        return any(not i.entity for i in self.incidents)

    @property
    def latest(self) -> Incident | None:
        return max(self.incidents, key=lambda i: i.last_seen, default=None)

    @property
    def latest_run_id(self):
        """The newest failed run of the group, for the "latest failed run" link."""
        with_run = [i for i in self.incidents if i.last_run_id]
        return max(with_run, key=lambda i: i.last_seen).last_run_id if with_run else None

    @property
    def open_count(self) -> int:
        return sum(1 for i in self.incidents if i.status == Incident.Status.OPEN)

    @property
    def acknowledged_count(self) -> int:
        return sum(1 for i in self.incidents if i.status == Incident.Status.ACKNOWLEDGED)

    @property
    def status(self) -> str:
        return Incident.Status.OPEN if self.open_count else Incident.Status.ACKNOWLEDGED


def failure_groups(*, status: str = "", error_code: str = "", connection=None, connection_q: str = "",
                   page: int | str = 1):
    """A page of groups (newest failure first) with their incidents: four queries whatever the count."""
    statuses = [status] if status in Incident.UNRESOLVED else list(Incident.UNRESOLVED)
    incidents = Incident.objects.filter(status__in=statuses)
    if error_code:
        incidents = incidents.filter(error_code=error_code)
    if connection:
        incidents = incidents.filter(connection_id=connection)
    elif connection_q:  # by name, from the connection picker's box
        incidents = incidents.filter(connection_id__in=connection_matches(q=connection_q))
    grouped = (incidents.values("connection_id", "error_code")
               .annotate(first_seen=Min("first_seen"), last_seen=Max("last_seen"), occurrences=Sum("occurrences"),
                         n=Count("id"))
               .order_by("-last_seen", "connection_id", "error_code"))
    page_obj = Paginator(grouped, GROUPS_PER_PAGE).get_page(page)
    rows = list(page_obj.object_list)
    ids = {r["connection_id"] for r in rows}
    connections = Connection.objects.select_related("customer").defer("credentials", "config", "metadata").in_bulk(ids)
    members: dict[tuple, list[Incident]] = {}
    for incident in incidents.filter(connection_id__in=ids).order_by("entity"):
        members.setdefault((incident.connection_id, incident.error_code), []).append(incident)
    page_obj.object_list = [
        IncidentGroup(connection=connections[r["connection_id"]], error_code=r["error_code"],
                      first_seen=r["first_seen"], last_seen=r["last_seen"], occurrences=r["occurrences"],
                      incidents=members.get((r["connection_id"], r["error_code"]), []))
        for r in rows if r["connection_id"] in connections]
    return page_obj


def failure_counts(*, error_code: str = "", connection=None) -> dict:
    """Unresolved incidents under the page's filters but its status one: "open" counts the
    acknowledged ones too, as they are not fixed."""
    incidents = Incident.objects.filter(status__in=Incident.UNRESOLVED)
    if error_code:
        incidents = incidents.filter(error_code=error_code)
    if connection:
        incidents = incidents.filter(connection_id=connection)
    acknowledged = Count("id", filter=Q(status=Incident.Status.ACKNOWLEDGED))
    return incidents.aggregate(open=Count("id"), acknowledged=acknowledged)


def failure_codes() -> list[str]:
    return list(Incident.objects.filter(status__in=Incident.UNRESOLVED).values_list("error_code", flat=True)
                .distinct().order_by("error_code"))


def incident_group_members(*, connection_id, error_code: str) -> list[Incident]:
    return list(Incident.objects.select_related("connection").filter(
        connection_id=connection_id, error_code=error_code, status__in=Incident.UNRESOLVED))
