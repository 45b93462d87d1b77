"""Incidents: opened by a failure, counted on repeats, resolved by the next success or by hand.

A failure of the whole connection (bad credentials, an upstream out of reach) is one incident
on the connection, entity "", listing the entities it stopped; any other failure is its
entity's own (docs/architecture.md, "Incidents")."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from connections.models import Connection
from core.audit import Actor, audit_record
from syncs.models import Incident, SyncRun
from syncs.selectors import incident_payload
from webhooks.services import event_emit

RECORD_MAPPING_FAILED = "RECORD_MAPPING_FAILED"

# Codes whose cause is the connection, not the entity that met it first: every entity of the
# connection fails the same way until it is fixed. UPSTREAM_PERMISSION_DENIED stays per entity:
# a 403 names one endpoint the integration user may not read, not the whole system.
CONNECTION_LEVEL_CODES = frozenset({"UPSTREAM_AUTHENTICATION_FAILED", "UPSTREAM_UNREACHABLE",
                                    "UPSTREAM_ADDRESS_REFUSED"})

# A run refused because its connection awaits reauthorization (engine) failed for the cause
# already open: it counts on that incident instead of opening one of its own.
SAME_CAUSE = {"REAUTHORIZATION_REQUIRED": "UPSTREAM_AUTHENTICATION_FAILED"}


def is_connection_level(code: str) -> bool:
    return code in CONNECTION_LEVEL_CODES


def _emit(incident: Incident, type: str) -> None:
    event_emit(type=type, connection=incident.connection, data={"incident": incident_payload(incident)})


def incident_record(*, run: SyncRun, code: str, message: str) -> Incident:
    """Opens an incident for this code on the run's entity (on the connection for a
    connection-level code), or counts one more occurrence."""
    code = SAME_CAUSE.get(code, code)
    connection_level = is_connection_level(code)
    entity = "" if connection_level else run.entity
    affected = [run.entity] if connection_level else []
    now = timezone.now()
    unresolved = Incident.objects.select_for_update().filter(
        connection_id=run.connection_id, entity=entity, error_code=code, status__in=Incident.UNRESOLVED)
    incident = unresolved.first()
    if incident:
        incident.occurrences += 1
        incident.last_seen, incident.last_run, incident.message = now, run, message
        incident.entities = sorted(set(incident.entities) | set(affected))
        incident.save(update_fields=["occurrences", "last_seen", "last_run", "message", "entities"])
        return incident
    try:
        with transaction.atomic():
            incident = Incident.objects.create(connection=run.connection, entity=entity, error_code=code,
                                               entities=affected, first_seen=now, last_seen=now, last_run=run,
                                               message=message)
    except IntegrityError:
        # Another worker opened it a moment ago: count this occurrence on that one.
        return incident_record(run=run, code=code, message=message)
    _emit(incident, "incident.opened")
    return incident


def incidents_after_success(*, run: SyncRun) -> None:
    """A success resolves the entity's incidents and the connection's own (it got through),
    except that records which still failed to map keep (or open) their RECORD_MAPPING_FAILED
    incident."""
    still_failing = run.failed_records > 0
    for incident in Incident.objects.filter(connection_id=run.connection_id, entity=run.entity,
                                            status__in=Incident.UNRESOLVED).select_related("connection"):
        if not (still_failing and incident.error_code == RECORD_MAPPING_FAILED):
            _resolve(incident)
    incidents_connection_resolve(connection=run.connection)
    if still_failing:
        incident_record(run=run, code=RECORD_MAPPING_FAILED, message=mapping_failure_message(run))


def incidents_connection_resolve(*, connection: Connection) -> None:
    """The connection works again: its connection-level incidents are over."""
    for incident in Incident.objects.filter(connection=connection, entity="", error_code__in=CONNECTION_LEVEL_CODES,
                                            status__in=Incident.UNRESOLVED):
        incident.connection = connection
        _resolve(incident)


def mapping_failure_message(run: SyncRun) -> str:
    label = run.entity.replace("_", " ")
    samples = (run.error_details or {}).get("failed_samples", [])
    lines = [f"{run.failed_records} of {run.fetched} {label} could not be mapped; their stored copies were kept "
             "and none of them was marked deleted."]
    lines += [f"- {sample.get('remote_id') or '(no id)'}: {sample.get('error')}" for sample in samples]
    return "\n".join(lines)


def _resolve(incident: Incident) -> bool:
    """Conditional, so a success and a click racing to resolve it send one incident.resolved."""
    now = timezone.now()
    if not Incident.objects.filter(pk=incident.pk, status__in=Incident.UNRESOLVED).update(
            status=Incident.Status.RESOLVED, resolved_at=now):
        return False
    incident.status, incident.resolved_at = Incident.Status.RESOLVED, now
    _emit(incident, "incident.resolved")
    return True


def _acknowledge(incident: Incident, actor: Actor) -> bool:
    """Acknowledged: someone is on it. It stays unresolved (and counted open) until it is fixed."""
    now = timezone.now()
    if not Incident.objects.filter(pk=incident.pk, status=Incident.Status.OPEN).update(
            status=Incident.Status.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=actor.name):
        return False
    incident.status, incident.acknowledged_at, incident.acknowledged_by = (
        Incident.Status.ACKNOWLEDGED, now, actor.name)
    return True


@transaction.atomic
def incidents_acknowledge(*, incidents: list[Incident], actor: Actor) -> int:
    """Acknowledges incidents of one cause (a failures-page group, or one incident) with one
    audit event per connection for the whole action; returns how many changed."""
    changed = [incident for incident in incidents if _acknowledge(incident, actor)]
    _audit(changed, action="incident.acknowledged", actor=actor)
    return len(changed)


@transaction.atomic
def incidents_resolve(*, incidents: list[Incident], actor: Actor) -> int:
    """Resolves by hand, with one audit event per connection; each incident still sends its own
    incident.resolved event to webhooks."""
    changed = [incident for incident in incidents if _resolve(incident)]
    _audit(changed, action="incident.resolved", actor=actor)
    return len(changed)


def incident_acknowledge(*, incident: Incident, actor: Actor) -> Incident:
    incidents_acknowledge(incidents=[incident], actor=actor)
    return incident


def incident_resolve(*, incident: Incident, actor: Actor) -> Incident:
    incidents_resolve(incidents=[incident], actor=actor)
    return incident


def _audit(incidents: list[Incident], *, action: str, actor: Actor) -> None:
    by_connection: dict = {}
    for incident in incidents:
        by_connection.setdefault(incident.connection_id, []).append(incident)
    for members in by_connection.values():
        first = members[0]
        entities = sorted({e for i in members for e in ([i.entity] if i.entity else i.entities)})
        audit_record(actor=actor, action=action, target=first, connection=first.connection,
                     details={"incidents": [i.pk for i in members],
                              "error_codes": sorted({i.error_code for i in members}), "entities": entities})
