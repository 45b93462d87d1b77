"""Incidents: opened by a failure, counted on repeats, resolved by the next success or by hand."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import Actor, audit_record
from syncs.models import Incident, SyncRun
from syncs.selectors import incident_payload
from webhooks.services import event_emit

RECORD_MAPPING_FAILED = "RECORD_MAPPING_FAILED"


def _emit(incident: Incident, type: str) -> None:
    event_emit(type=type, connection=incident.connection, data={"incident": incident_payload(incident)})


def incident_record(*, run: SyncRun, code: str, message: str) -> Incident:
    """Opens an incident for this code on the run's entity, or counts one more occurrence."""
    now = timezone.now()
    unresolved = Incident.objects.select_for_update().filter(
        connection_id=run.connection_id, entity=run.entity, error_code=code, status__in=Incident.UNRESOLVED)
    incident = unresolved.first()
    if incident:
        incident.occurrences += 1
        incident.last_seen, incident.last_run, incident.message = now, run, message
        incident.save(update_fields=["occurrences", "last_seen", "last_run", "message"])
        return incident
    try:
        with transaction.atomic():
            incident = Incident.objects.create(connection=run.connection, entity=run.entity, error_code=code,
                                               first_seen=now, last_seen=now, last_run=run, message=message)
    except IntegrityError:
        # Another worker opened it a moment ago: count this occurrence on that one.
        return incident_record(run=run, code=code, message=message)
    _emit(incident, "incident.opened")
    return incident


def incidents_after_success(*, run: SyncRun) -> None:
    """A success resolves the entity's incidents, except that records which still failed to
    map keep (or open) their RECORD_MAPPING_FAILED incident."""
    still_failing = run.failed_records > 0
    for incident in Incident.objects.filter(connection_id=run.connection_id, entity=run.entity,
                                            status__in=Incident.UNRESOLVED).select_related("connection"):
        if not (still_failing and incident.error_code == RECORD_MAPPING_FAILED):
            _resolve(incident)
    if still_failing:
        incident_record(run=run, code=RECORD_MAPPING_FAILED, message=mapping_failure_message(run))


def mapping_failure_message(run: SyncRun) -> str:
    label = run.entity.replace("_", " ")
    samples = (run.error_details or {}).get("failed_samples", [])
    lines = [f"{run.failed_records} of {run.fetched} {label} could not be mapped; their stored copies were kept "
             "and none of them was marked deleted."]
    lines += [f"- {sample.get('remote_id') or '(no id)'}: {sample.get('error')}" for sample in samples]
    return "\n".join(lines)


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
