from connections.connectors.base import ReadRequest
from connections.connectors.sandbox import SandboxConnector

ANCHOR = "2026-11-01T00:00:00+00:00"


def sandbox(**config):
    return SandboxConnector(config={"seed": 3, "records": 50, "page_size": 20, "anchor": ANCHOR, **config},
                            credentials={"api_key": "k"})


def all_records(connector, entity, **kwargs):
    request = ReadRequest(entity, since=kwargs.get("since"), window_start=None, checkpoint={})
    return [r for page in connector.pages(request) for r in page.records]


def test_it_is_deterministic_for_a_seed():
    assert all_records(sandbox(), "purchase_orders") == all_records(sandbox(), "purchase_orders")
    assert all_records(sandbox(), "vendors") != all_records(sandbox(seed=4), "vendors")


def test_it_serves_every_entity_in_pages():
    connector = sandbox()
    for entity in SandboxConnector.entities:
        pages = list(connector.pages(ReadRequest(entity, None, None, {})))
        assert [len(p.records) for p in pages] == [20, 20, 10]
        assert pages[-1].next_checkpoint is None


def test_it_normalizes_purchase_orders_with_decimal_strings_and_references():
    connector = sandbox()
    po = connector.normalize("purchase_orders", all_records(connector, "purchase_orders")[0])
    assert po["number"].startswith("45") and po["status"] in {
        "draft", "pending_approval", "approved", "open", "partially_received", "received", "closed", "cancelled"}
    assert po["vendor"]["remote_id"].startswith("V") and po["lines"]
    line = po["lines"][0]
    assert isinstance(line["unit_price"], str) and "." in line["unit_price"]
    from decimal import Decimal
    assert Decimal(po["total"]) == Decimal(po["subtotal"]) + Decimal(po["tax"])
    assert sum(Decimal(li["amount"]) for li in po["lines"]) == Decimal(po["subtotal"])
    vendor_ids = {v["Id"] for v in all_records(connector, "vendors")}
    assert po["vendor"]["remote_id"] in vendor_ids


def test_it_hides_deleted_records():
    kept = all_records(sandbox(records=1000, deleted_fraction=0.1), "assets")
    assert 850 < len(kept) < 950


def test_it_moves_changing_records_forward_with_the_clock(monkeypatch):
    from datetime import datetime

    from connections.connectors import sandbox as module

    connector = sandbox(change_rate=0.1, change_period_seconds=60)
    anchor = datetime.fromisoformat(ANCHOR).timestamp()
    monkeypatch.setattr(module, "clock", lambda: anchor + 3600)
    since = datetime.fromisoformat("2026-11-01T00:30:00+00:00")
    changed = all_records(connector, "work_orders", since=since)
    assert len(changed) == 5
    assert all(r["Version"] >= 30 for r in changed)


def test_it_injects_a_rate_limit_once_per_page():
    import pytest

    from connections.connectors.base import UpstreamError

    connector = sandbox(faults={"rate_limit_every": 2, "retry_after": 3})
    connector.fetch_page(ReadRequest("vendors", None, None, {}))
    with pytest.raises(UpstreamError) as exc:
        connector.fetch_page(ReadRequest("vendors", None, None, {"next": 20, "page": 1}))
    assert exc.value.code == "UPSTREAM_RATE_LIMITED" and exc.value.retry_after == 3
    assert connector.fetch_page(ReadRequest("vendors", None, None, {"next": 20, "page": 1})).records


def test_it_refuses_out_of_range_config_with_field_details():
    import pytest

    from core.errors import CatalogError

    bad = {"change_rate": 2, "deleted_fraction": -0.1, "page_size": 0, "records": {"widgets": 5},
           "anchor": "yesterday"}
    with pytest.raises(CatalogError) as exc:
        SandboxConnector.validate(config=bad, credentials={"api_key": "k"})
    assert exc.value.code == "VALIDATION_FAILED"
    assert set(exc.value.details["fields"]) == {"config.change_rate", "config.deleted_fraction", "config.page_size",
                                                "config.records", "config.anchor"}


def test_it_fixes_the_anchor_at_creation():
    config = SandboxConnector.validate(config={"records": 5}, credentials={"api_key": "k"})
    from datetime import datetime

    assert datetime.fromisoformat(config["anchor"]).tzinfo is not None
    assert config["page_size"] == 200 and config["seed"] == 1
