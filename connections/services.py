"""Writes to customers and connections. Sync-side effects are imported late to keep one direction."""

from django.db import transaction
from django.utils import timezone

from connections.audit import Actor, audit_record
from connections.models import Connection, Customer
from connections.tokens import token_generate, token_hash, token_prefix


def customer_get_or_create(*, name: str, external_id: str | None = None) -> Customer:
    if external_id:
        customer, _ = Customer.objects.get_or_create(external_id=external_id, defaults={"name": name})
        return customer
    customer = Customer.objects.filter(name=name).order_by("pk").first()
    return customer or Customer.objects.create(name=name)


def connection_token_issue(*, connection: Connection) -> str:
    """Sets a new token and returns it; the clear token exists only in this return value."""
    token = token_generate(kind="ctk")
    connection.token_hash = token_hash(token)
    connection.token_prefix = token_prefix(token)
    connection.save(update_fields=["token_hash", "token_prefix", "updated_at"])
    return token


@transaction.atomic
def connection_token_rotate(*, connection: Connection, actor: Actor) -> str:
    token = connection_token_issue(connection=connection)
    audit_record(actor=actor, action="connection.token_rotated", target=connection, connection=connection,
                 details={"token_prefix": connection.token_prefix})
    return token


def connection_by_token(*, token: str) -> Connection | None:
    if not token.startswith("ctk_"):
        return None
    return (Connection.objects.select_related("customer")
            .filter(token_hash=token_hash(token)).exclude(status=Connection.Status.DISCONNECTED).first())


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
    return previous != status
