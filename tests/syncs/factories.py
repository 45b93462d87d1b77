from datetime import UTC, datetime, timedelta

from connections.connectors.registry import connector_for
from connections.models import Connection, Customer
from core.audit import Actor
from syncs.lifecycle import connection_create
from syncs.models import Record, SyncRun

TEST_ACTOR = Actor(name="tester", source="cli", request_id="req_test")


def sandbox_connection(*, name: str = "Sandbox", records=40, page_size: int = 10, entities=None, verify=True,
                       credentials=None, **config):
    """A sandbox connection made through the real service, with its initial full run queued."""
    config = {"seed": 5, "records": records, "page_size": page_size,
              "anchor": (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat(), **config}
    connection, token = connection_create(
        customer_name="Test Customer", connector="sandbox", name=name, config=config,
        credentials=credentials or {"api_key": "k"}, entities=entities, actor=TEST_ACTOR, verify=verify)
    return connection


def queued_run(connection, entity: str) -> SyncRun:
    return SyncRun.objects.get(connection=connection, entity=entity, status=SyncRun.Status.QUEUED)


def bare_connection(name: str = "Bare") -> Connection:
    """A connection with no run at all, for tests that lay out runs by hand (run_row)."""
    customer = Customer.objects.create(name=f"{name} customer")
    return Connection.objects.create(customer=customer, connector="sandbox", name=name, status="active",
                                     config={"seed": 1}, credentials={"api_key": "k"})


def run_row(connection, entity: str, *, status: str = SyncRun.Status.QUEUED, **fields) -> SyncRun:
    """A run row as the dispatcher and the engine leave it (status, ready_at, not_before, yields...)."""
    return SyncRun.objects.create(connection=connection, entity=entity, status=status, **fields)


def stored(connection, entity: str) -> dict[str, dict]:
    return {r.remote_id: r.data for r in Record.objects.filter(connection=connection, entity=entity,
                                                               deleted_at__isnull=True)}


def expected(connection, entity: str) -> dict[str, dict]:
    connection.refresh_from_db()
    return connector_for(connection).expected(entity)
