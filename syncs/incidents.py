"""Incidents: opened by a failure, counted on repeats, resolved by the next success or by hand."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from connections.audit import Actor, audit_record
from syncs.models import Incident, SyncRun


def _emit(incident: Incident, type: str) -> None:
    from syncs.outcomes import events_emit
    from syncs.selectors import incident_payload

    events_emit(type=type, connection=incident.connection, data={"incident": incident_payload(incident)})


def incident_record_failure(*, run: SyncRun) -> Incident:
    now = timezone.now()
    unresolved = Incident.objects.select_for_update().filter(
        connection_id=run.connection_id, entity=run.entity, error_code=run.error_code, status__in=Incident.UNRESOLVED)
    incident = unresolved.first()
    if incident:
        incident.occurrences += 1
        incident.last_seen, incident.last_run, incident.message = now, run, run.error_message
        incident.save(update_fields=["occurrences", "last_seen", "last_run", "message"])
        return incident
    try:
        with transaction.atomic():
            incident = Incident.objects.create(connection=run.connection, entity=run.entity, error_code=run.error_code,
                                               first_seen=now, last_seen=now, last_run=run, message=run.error_message)
    except IntegrityError:
        # Another worker opened it a moment ago: count this failure on that one.
        return incident_record_failure(run=run)
    _emit(incident, "incident.opened")
    return incident


def incidents_resolve_after_success(*, run: SyncRun) -> int:
    resolved = 0
    for incident in Incident.objects.filter(connection_id=run.connection_id, entity=run.entity,
                                            status__in=Incident.UNRESOLVED).select_related("connection"):
        _resolve(incident)
        resolved += 1
    return resolved


def _resolve(incident: Incident) -> None:
    incident.status, incident.resolved_at = Incident.Status.RESOLVED, timezone.now()
    incident.save(update_fields=["status", "resolved_at"])
    _emit(incident, "incident.resolved")


@transaction.atomic
def incident_acknowledge(*, incident: Incident, actor: Actor) -> Incident:
    if incident.status == Incident.Status.OPEN:
        incident.status, incident.acknowledged_at, incident.acknowledged_by = (
            Incident.Status.ACKNOWLEDGED, timezone.now(), actor.name)
        incident.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
        audit_record(actor=actor, action="incident.acknowledged", target=incident, connection=incident.connection)
    return incident


@transaction.atomic
def incident_resolve(*, incident: Incident, actor: Actor) -> Incident:
    if incident.status != Incident.Status.RESOLVED:
        _resolve(incident)
        audit_record(actor=actor, action="incident.resolved", target=incident, connection=incident.connection)
    return incident
