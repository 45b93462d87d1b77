"""The unified schema refuses what does not fit it (docs/entities.md, Rules)."""

import copy

import pytest
from pydantic import ValidationError

from connections.connectors.base import MappingError
from connections.connectors.schema import ENTITY_MODELS, RecordInvalid, record_validate


def purchase_order() -> dict:
    """A valid purchase order, written out in full."""
    return {
        "remote_id": "PO7", "number": "4500000007", "upstream_status": "REL", "status": "approved",
        "created_at": "2026-10-01T08:00:00+02:00", "updated_at": "2026-10-02T09:30:00Z",
        "custom_fields": {"release_strategy": "S1"},
        "vendor": {"remote_id": "V100", "name": "Atlas Valves Ltd"}, "order_date": "2026-10-01",
        "required_date": "2026-10-20", "currency": "EUR", "subtotal": "100.00", "tax": "19.00", "total": "119.00",
        "payment_terms": "NET30", "ship_to": "Hamburg plant 1", "bill_to": "Accounts Payable",
        "organization": {"code": "1000", "name": "Nordwerk GmbH"}, "buyer": "m.garcia",
        "lines": [{"line_number": 10, "item_code": "MAT-000001", "item": {"remote_id": "I300001", "code": "MAT-000001"},
                   "description": "V-belt A42", "quantity": "4", "unit_of_measure": "EA", "unit_price": "25.00",
                   "amount": "100.00", "tax_amount": "19.00", "quantity_received": "0", "delivery_date": "2026-10-15",
                   "status": "open", "account": "CC-4711"}],
    }


def refusal(record: dict) -> str:
    with pytest.raises(RecordInvalid) as exc:
        record_validate("purchase_orders", record)
    return str(exc.value)


def test_it_accepts_a_record_that_fits():
    record = purchase_order()
    before = copy.deepcopy(record)
    record_validate("purchase_orders", record)
    assert record == before, "validation leaves the connector's dict as it is"
    ENTITY_MODELS["purchase_orders"].model_validate(record)


def test_it_refuses_a_wrong_type_naming_the_field():
    record = purchase_order()
    record["lines"][0]["quantity"] = 4.0
    assert refusal(record) == "lines.0.quantity: Input should be a valid string"


def test_it_refuses_an_unknown_field():
    record = purchase_order()
    record["colour"] = "red"
    assert refusal(record) == "colour: is not a field of the unified schema"
    nested = purchase_order()
    nested["vendor"]["vat"] = "DE1"
    assert refusal(nested) == "vendor.vat: is not a field of the unified schema"


@pytest.mark.parametrize(("path", "value", "reason"), [
    (("total",), 119, "total: Input should be a valid string"),
    (("total",), "119,00", "total: String should match pattern"),
    (("lines", 0, "line_number"), "10", "lines.0.line_number: Input should be a valid integer"),
    (("status",), "released", "status: Input should be 'draft', 'pending_approval'"),
    (("lines", 0, "status"), "partly", "lines.0.status: Input should be 'open'"),
    (("updated_at",), "2026-10-02T09:30:00", "updated_at: has no UTC offset"),
    (("created_at",), 1790000000, "created_at: Input should be a valid string"),
    (("created_at",), "1790000000", "created_at: String should match pattern"),
    (("order_date",), "2026-02-30", "order_date: Input should be a valid date"),
    (("order_date",), "01.10.2026", "order_date: String should match pattern"),
    (("currency",), "eur", "currency: String should match pattern"),
    (("custom_fields",), None, "custom_fields: Input should be a valid dictionary"),
    (("lines",), ({},), "lines: Input should be a valid list"),
])
def test_it_refuses_values_that_break_the_rules(path, value, reason):
    record = purchase_order()
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert refusal(record).startswith(reason)
    # The engine's fast validator and the models the API and docs use agree.
    with pytest.raises(ValidationError):
        ENTITY_MODELS["purchase_orders"].model_validate(record)


def test_it_refuses_a_missing_field_and_says_to_send_null():
    record = purchase_order()
    del record["buyer"]
    assert refusal(record) == "buyer: is missing (send null when the upstream has no value)"
    record = purchase_order()
    record["buyer"] = None
    record_validate("purchase_orders", record)


def test_it_names_the_first_errors_and_counts_the_rest():
    record = purchase_order()
    for name in ("subtotal", "tax", "total", "buyer", "ship_to"):
        record[name] = 1
    reason = refusal(record)
    assert reason.count("; ") == 2 and reason.endswith("(and 2 more)")
    assert reason.startswith("subtotal: Input should be a valid string")


def test_it_is_a_mapping_error_so_the_engine_counts_it_per_record():
    assert issubclass(RecordInvalid, MappingError)


def test_it_defines_the_fields_the_real_connectors_need():
    fields = {entity: set(model.model_fields) for entity, model in ENTITY_MODELS.items()}
    common = {"remote_id", "number", "upstream_status", "created_at", "updated_at", "deleted_at", "custom_fields"}
    assert all(common <= names for names in fields.values())
    assert {"organization", "buyer", "lines"} <= fields["purchase_orders"]
    assert {"site", "scheduled_start", "scheduled_end", "estimated_hours", "actual_hours", "actual_cost",
            "failure_code", "parent", "assignees"} <= fields["work_orders"]
    assert {"site", "category"} <= fields["assets"] and {"site", "stock"} <= fields["inventory_items"]
    assert "tax_id" in fields["vendors"]
    line = ENTITY_MODELS["purchase_orders"].model_fields["lines"].annotation.__args__[0]
    assert {"status", "tax_amount", "item", "account"} <= set(line.model_fields)
