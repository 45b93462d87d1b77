"""The audit log: every action by a person, a token or the system, written by the services."""

from dataclasses import dataclass

from core.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who is acting, and through which surface; passed from views, API routes and commands."""

    name: str
    source: str = AuditEvent.Source.SYSTEM
    user_id: int | None = None
    request_id: str = ""

    @classmethod
    def for_user(cls, user, *, source: str, request_id: str = "") -> "Actor":
        return cls(name=user.get_username(), source=source, user_id=user.pk, request_id=request_id)


def admin_actor(request) -> Actor:
    """Support staff act as themselves, from the admin, with the request's id for the audit trail."""
    return Actor.for_user(request.user, source=AuditEvent.Source.ADMIN, request_id=getattr(request, "request_id", ""))


SYSTEM = Actor(name="system")


def audit_record(*, actor: Actor, action: str, target=None, connection=None,
                 details: dict | None = None) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor.name, user_id=actor.user_id, source=actor.source, action=action,
        target_type=type(target).__name__.lower() if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        connection=connection, request_id=actor.request_id, details=details or {},
    )
