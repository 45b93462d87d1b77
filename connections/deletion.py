"""Deleting a connection with everything synced for it (API v1 DELETE /connections/{id}).

Kept out of connections/services.py only because that module is being edited elsewhere;
it belongs beside connection_disconnect and can move there as is.
"""

from django.db import transaction

from connections.audit import Actor, audit_record
from connections.models import Connection


@transaction.atomic
def connection_delete(*, connection: Connection, actor: Actor) -> None:
    """Cancels active runs, then deletes the connection, its records, runs, states, incidents and
    connection-scoped webhook endpoints. Webhook events and audit events stay (unlinked)."""
    from syncs.models import SyncRun
    from syncs.services import sync_run_cancel

    for run in SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE_STATUSES):
        sync_run_cancel(run=run, actor=actor)
    audit_record(actor=actor, action="connection.deleted", target=connection,
                 details={"name": connection.name, "connector": connection.connector,
                          "customer_id": connection.customer_id, "token_prefix": connection.token_prefix})
    connection.delete()
