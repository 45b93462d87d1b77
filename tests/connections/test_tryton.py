"""The tryton connector through the real engine against a real Tryton 8.2 server (tests/upstreams/tryton.py).

The server is shared by the session and these tests change it (an edit, a deletion): they run in
file order, and each makes its own connection and first full sync.
"""

from decimal import Decimal

import pytest

from connections.connectors.tryton import TrytonConnector
from connections.models import Connection
from syncs.engine import run_execute
from syncs.models import Record, SyncRun
from syncs.services import sync_trigger
from tests.syncs.factories import TEST_ACTOR, queued_run, stored
from tests.upstreams.tryton import PRODUCTS, SUPPLIER_NAMES, tryton_server  # noqa: F401 - the fixture

# transaction=True: the engine's reader thread counts the request budget in the database when
# Redis is not configured; inside a test's open transaction SQLite would lock it out.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_clock]


def tryton_connection(server, entities=None, **credentials):
    from syncs.lifecycle import connection_create

    config, default_credentials = server.connection_settings()
    connection, _ = connection_create(customer_name="Tryton Customer", connector="tryton", name="Tryton",
                                      config=config, credentials={**default_credentials, **credentials},
                                      entities=entities, actor=TEST_ACTOR)
    return connection


def first_sync(connection, entity) -> SyncRun:
    run = run_execute(run_id=queued_run(connection, entity).pk)
    assert run.status == "succeeded", (run.error_code, run.error_message)
    return run


def sync(connection, entity, mode="incremental") -> SyncRun:
    run = sync_trigger(connection=connection, entities=[entity], mode=mode, trigger="cli")[0].run
    return run_execute(run_id=run.pk)


def test_it_stores_exactly_the_seeded_records(tryton_server):  # noqa: F811
    server = tryton_server
    connection = tryton_connection(server)
    assert connection.status == "active" and connection.entities == list(TrytonConnector.entities)
    runs = {entity: first_sync(connection, entity) for entity in connection.entities}
    assert {e: r.failed_records for e, r in runs.items()} == dict.fromkeys(connection.entities, 0)

    seeded = server.seeded["purchases"]
    purchases = stored(connection, "purchase_orders")
    assert set(purchases) == {str(i) for i in seeded.values()}
    assert runs["purchase_orders"].created == 7
    statuses = {key: (purchases[str(i)]["status"], purchases[str(i)]["upstream_status"]) for key, i in seeded.items()}
    assert statuses == {"draft": ("draft", "draft"), "draft_to_delete": ("draft", "draft"),
                        "quotation": ("pending_approval", "quotation"), "processing": ("open", "processing"),
                        "received": ("received", "processing"), "done": ("closed", "done"),
                        "cancelled": ("cancelled", "cancelled")}
    quotation = purchases[str(seeded["quotation"])]
    assert (quotation["subtotal"], quotation["total"], quotation["currency"]) == ("202.00", "202.00", "EUR")
    assert quotation["vendor"] == {"remote_id": str(server.seeded["suppliers"][1]), "name": SUPPLIER_NAMES[1]}
    assert [(li["item_code"], li["quantity"], li["unit_price"], li["amount"]) for li in quotation["lines"]] == [
        ("OIL-46", "20.0", "4.1000", "82.00"), ("SEAL-35", "2.0", "60.0000", "120.00")]
    received = purchases[str(seeded["received"])]
    assert [(li["quantity_received"], li["status"]) for li in received["lines"]] == [("6.0", "received"),
                                                                                    ("12.0", "received")]

    vendors = stored(connection, "vendors")
    assert sorted(v["name"] for v in vendors.values()) == sorted(
        [*SUPPLIER_NAMES, "Nordwerk Industries GmbH", "Customer Without Purchases"])
    first = vendors[str(server.seeded["suppliers"][0])]
    assert (first["email"], first["address"]) == ("orders@supplier1.example", {
        "line1": "1 Industriestrasse", "line2": "Gate 1", "city": "Hamburg", "region": None, "postal_code": "20090",
        "country": None})

    items = stored(connection, "inventory_items")
    assert sorted((i["code"], i["name"], i["unit_cost"], i["quantity_on_hand"]) for i in items.values()) == [
        ("BRG-6204", "Ball bearing 6204", "8.5000", "6.0"), ("OIL-46", "Hydraulic oil ISO 46", "4.2500", "12.0"),
        ("SEAL-35", "Mechanical seal 35mm", "61.0000", "0.0")]

    locations = stored(connection, "locations")
    by_code = {loc["code"]: loc for loc in locations.values()}
    assert {"WH", "IN", "OUT", "STO", "SUP", "CUS"} <= set(by_code)
    assert by_code["STO"]["parent"] == {"remote_id": next(k for k, v in locations.items() if v["code"] == "WH")}
    assert len(locations) == runs["locations"].fetched


def test_it_updates_exactly_the_edited_purchase_incrementally(tryton_server):  # noqa: F811
    server = tryton_server
    connection = tryton_connection(server, entities=["purchase_orders"])
    first_sync(connection, "purchase_orders")
    draft_id = server.seeded["purchases"]["draft"]
    before = Record.objects.get(connection=connection, entity="purchase_orders", remote_id=str(draft_id))

    from proteus import Model

    with server.proteus() as cfg:
        purchase = Model.get("purchase.purchase", config=cfg)(draft_id)
        purchase.description = "Urgent: line stopped"
        line, = purchase.lines
        line.quantity = 12
        purchase.save()

    run = sync(connection, "purchase_orders")
    assert run.status == "succeeded", run.error_message
    assert (run.created, run.updated, run.deleted) == (0, 1, 0)
    after = Record.objects.get(pk=before.pk)
    assert after.modified_at > before.modified_at
    assert after.data["custom_fields"]["description"] == "Urgent: line stopped"
    line = after.data["lines"][0]
    # Tryton's on_change re-prices the line from the product's cost price when its quantity changes.
    assert (line["quantity"], line["unit_price"], after.data["subtotal"]) == ("12.0", "8.5000", "102.00")
    assert after.data["updated_at"] > before.data["updated_at"]


def test_it_marks_a_deleted_purchase_on_a_full_resync(tryton_server):  # noqa: F811
    server = tryton_server
    connection = tryton_connection(server, entities=["purchase_orders"])
    first_sync(connection, "purchase_orders")
    doomed = server.seeded["purchases"]["draft_to_delete"]

    from proteus import Model

    with server.proteus() as cfg:
        Model.get("purchase.purchase", config=cfg)(doomed).delete()
    server.seeded["purchases"].pop("draft_to_delete")

    incremental = sync(connection, "purchase_orders")
    assert incremental.status == "succeeded" and incremental.deleted == 0
    run = sync(connection, "purchase_orders", "full")
    assert run.status == "succeeded", run.error_message
    assert (run.fetched, run.deleted) == (6, 1)
    record = Record.objects.get(connection=connection, entity="purchase_orders", remote_id=str(doomed))
    assert record.deleted_at is not None
    assert set(stored(connection, "purchase_orders")) == {str(i) for i in server.seeded["purchases"].values()}


def test_it_moves_the_connection_to_auth_failed_on_a_wrong_password(tryton_server):  # noqa: F811
    connection = tryton_connection(tryton_server, entities=["vendors"])
    first_sync(connection, "vendors")
    connection.credentials = {**connection.credentials, "password": "wrong-password"}
    connection.save()

    run = sync(connection, "vendors")
    assert run.status == "failed" and run.error_code == "UPSTREAM_AUTHENTICATION_FAILED"
    assert "wrong-password" not in run.error_message
    connection.refresh_from_db()
    assert connection.status == Connection.Status.AUTH_FAILED


def test_it_renews_a_session_that_expires_mid_run(tryton_server, monkeypatch):  # noqa: F811
    from connections.connectors import tryton as module

    connection = tryton_connection(tryton_server, entities=["purchase_orders"])
    monkeypatch.setattr(module, "PAGE_SIZE", 2)
    logins, expired = [], []
    real_login, real_fetch = TrytonConnector._login, TrytonConnector.fetch_page

    def counting_login(self, client):
        logins.append(1)
        return real_login(self, client)

    def fetch_then_expire(self, request):
        page = real_fetch(self, request)
        if not expired:
            self.call("common.db.logout")  # the server forgets the session, as after its max_age
            expired.append(1)
        return page

    monkeypatch.setattr(TrytonConnector, "_login", counting_login)
    monkeypatch.setattr(TrytonConnector, "fetch_page", fetch_then_expire)
    run = first_sync(connection, "purchase_orders")
    assert run.pages >= 3 and run.fetched == len(tryton_server.seeded["purchases"])
    assert len(logins) == 2, "logged in once, then once more after the session expired"
    assert not [e for e in run.timeline if e["event"] == "retry"], "renewed inside the request, not retried"
    assert sum(Decimal(p["total"]) >= 0 for p in stored(connection, "purchase_orders").values()) == run.fetched


def test_it_refuses_a_wrong_password_when_connecting(tryton_server):  # noqa: F811
    from core.errors import CatalogError

    with pytest.raises(CatalogError) as exc:
        tryton_connection(tryton_server, password="not-the-password")
    assert exc.value.code == "UPSTREAM_AUTHENTICATION_FAILED"
