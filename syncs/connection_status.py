"""A connection's status: the one place it changes, with its reason, audit and webhook event.

Its own module because a run's outcome sets it (syncs/outcomes.py) as do the connection
lifecycle's writes (syncs/lifecycle.py), which queue and cancel runs: both import this.
"""

from django.utils import timezone

from connections.models import Connection
from core.audit import Actor, audit_record
from syncs.incidents import incidents_connection_resolve
from webhooks.services import event_emit

# Statuses a connection-level failure leaves behind: leaving one for active means the
# credentials or the upstream work again, so the connection's incidents are over. Not paused:
# resuming says nothing about what failed before the pause.
RECOVERED_FROM = (Connection.Status.AUTH_FAILED, Connection.Status.UNREACHABLE, Connection.Status.PENDING)


def connection_set_status(*, connection: Connection, status: str, reason: str) -> bool:
    """Moves a connection to a status with its reason; returns whether anything changed."""
    if connection.status == status and connection.status_reason == reason:
        return False
    previous = connection.status
    connection.status = status
    connection.status_reason = reason[:500]
    connection.status_changed_at = timezone.now()
    connection.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    if previous != status:
        audit_record(actor=Actor(name="system"), action="connection.status_changed", target=connection,
                     connection=connection, details={"from": previous, "to": status, "reason": reason})
        event_emit(type="connection.status_changed", connection=connection,
                   data={"connection_id": str(connection.pk), "from": previous, "to": status, "reason": reason})
        if status == Connection.Status.ACTIVE and previous in RECOVERED_FROM:
            incidents_connection_resolve(connection=connection)
    return previous != status
