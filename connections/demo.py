"""Demo data for a first look: a user, customers and sandbox connections of a few kinds."""

import os
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from connections.models import Connection
from core.audit import Actor
from syncs.lifecycle import connection_create

DEMO_ACTOR = Actor(name="demo", source="cli")

DEMO_CONNECTIONS = [
    # (customer, connection name, sandbox config)
    ("Acme Manufacturing", "Acme sandbox ERP (healthy, 10k per entity)",
     {"seed": 1, "records": 10000, "page_size": 500, "change_rate": 0.01, "deleted_fraction": 0.002}),
    ("Northwind Utilities", "Northwind CMMS (rate limited)",
     {"seed": 2, "records": 2000, "faults": {"rate_limit_every": 3, "retry_after": 2}}),
    ("Contoso Mining", "Contoso EAM (bad credentials)", {"seed": 3, "records": 500, "faults": {"auth_failure": True}}),
]


@dataclass
class DemoResult:
    password: str
    lines: list[str] = field(default_factory=list)


def demo_password() -> str:
    """DEMO_PASSWORD, else one generated once and kept under var/ so every run prints the same."""
    if os.environ.get("DEMO_PASSWORD"):
        return os.environ["DEMO_PASSWORD"]
    path = settings.VAR_DIR / "demo-password.txt"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def demo_user_ensure(*, password: str) -> bool:
    user, created = get_user_model().objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"})
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return created


@transaction.atomic
def demo_seed() -> DemoResult:
    result = DemoResult(password=demo_password())
    if demo_user_ensure(password=result.password):
        result.lines.append("Created user admin")
    for customer_name, name, config in DEMO_CONNECTIONS:
        if Connection.objects.filter(customer__name=customer_name, name=name).exists():
            continue
        # Not verified up front, so the bad-credentials one is created too and fails its first sync.
        connection, token = connection_create(customer_name=customer_name, connector="sandbox", name=name,
                                              config=config, credentials={"api_key": "demo"}, actor=DEMO_ACTOR,
                                              verify=False)
        result.lines.append(f"Created connection {name} for {customer_name}; initial full sync queued; "
                            f"API token: {token}")
    return result
