import re

import pytest

from core.api_errors import ERROR_STATUSES

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    return response.json()


def all_operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_it_serves_openapi_3_1_for_version_1(schema):
    assert schema["openapi"].startswith("3.1")
    assert schema["info"]["version"] == "1" and schema["info"]["title"] == "PlantSync API"
    assert set(schema["components"]["securitySchemes"]) == {"ConnectionToken", "AdminKey"}
    assert all(s["scheme"] == "bearer" for s in schema["components"]["securitySchemes"].values())


def test_it_documents_the_error_envelope_on_every_operation(schema):
    envelope = schema["components"]["schemas"]["ErrorOut"]
    body = schema["components"]["schemas"]["ErrorBody"]
    assert envelope["required"] == ["error"]
    assert set(body["required"]) == {"code", "type", "message", "request_id", "details"}
    operations = list(all_operations(schema))
    assert len(operations) >= 37
    for path, method, operation in operations:
        responses = operation["responses"]
        for status in ERROR_STATUSES:
            ref = responses[str(status)]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ErrorOut", (method, path, status)
        assert any(code.startswith("2") for code in responses), (method, path)
        assert operation["operationId"] and operation["security"]


def test_it_documents_upstream_failures_where_credentials_are_checked(schema):
    upstream = {op["operationId"] for _, _, op in all_operations(schema) if "502" in op["responses"]}
    assert upstream == {"create_connection", "update_connection"}


def test_it_documents_every_record_list_with_cursor_parameters(schema):
    for path in ("/api/v1/purchase-orders", "/api/v1/work-orders", "/api/v1/assets", "/api/v1/inventory-items",
                 "/api/v1/vendors", "/api/v1/locations"):
        params = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        assert set(params) == {"cursor", "page_size", "modified_after", "include_deleted", "include_raw"}
        assert params["page_size"]["schema"]["maximum"] == 500 and params["page_size"]["schema"]["default"] == 100


def test_it_serves_swagger_ui_from_local_static_files_only(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", "")
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        body = b"".join(served.streaming_content) if served.streaming else served.content
        assert body
    assert '"/api/v1/openapi.json"' in html
    assert '"validatorUrl": null' in html  # Swagger UI would otherwise call validator.swagger.io


RECORD_COMPONENTS = {"purchase_orders": "PurchaseOrder", "work_orders": "WorkOrder", "assets": "Asset",
                     "inventory_items": "InventoryItem", "vendors": "Vendor", "locations": "Location"}


def test_it_generates_record_schemas_from_the_unified_models(schema):
    from connections.connectors.schema import ENTITY_MODELS

    components = schema["components"]["schemas"]
    for entity, name in RECORD_COMPONENTS.items():
        record = components[name]
        assert set(record["properties"]) == set(ENTITY_MODELS[entity].model_fields) | {"id", "modified_at", "raw"}
        assert record["additionalProperties"] is False, "the stored shape, nothing more"
        assert set(record["required"]) == set(record["properties"]) - {"raw"}, "raw only with include_raw"
        path = "/api/v1/" + entity.replace("_", "-")
        ok = schema["paths"][path + "/{record_id}"]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["$ref"] == f"#/components/schemas/{name}"


def test_it_documents_the_new_fields_of_the_unified_schema(schema):
    components = schema["components"]["schemas"]
    for name in RECORD_COMPONENTS.values():
        assert "upstream_status" in components[name]["properties"]
    assert {"organization", "buyer"} <= set(components["PurchaseOrder"]["properties"])
    assert {"status", "tax_amount", "item", "account"} <= set(components["PurchaseOrderLine"]["properties"])
    assert set(components["ItemRef"]["properties"]) == {"remote_id", "code"}
    assert set(components["Organization"]["properties"]) == {"code", "name"}
    assert {"site", "scheduled_start", "scheduled_end", "estimated_hours", "actual_hours", "actual_cost",
            "failure_code", "parent", "assignees"} <= set(components["WorkOrder"]["properties"])
    assert {"site", "category"} <= set(components["Asset"]["properties"])
    assert {"site", "stock"} <= set(components["InventoryItem"]["properties"])
    assert set(components["StockLevel"]["properties"]) == {"location", "quantity_on_hand", "bin"}
    assert "tax_id" in components["Vendor"]["properties"]
    assert set(components["Address"]["properties"]) == {"line1", "line2", "city", "region", "postal_code", "country"}


def nullable(prop: dict) -> dict:
    return next(p for p in prop["anyOf"] if p.get("type") != "null")


def test_it_documents_closed_enums_decimal_strings_and_times_with_offsets(schema):
    components = schema["components"]["schemas"]
    work_order = components["WorkOrder"]["properties"]
    assert nullable(work_order["status"])["enum"] == ["open", "in_progress", "on_hold", "completed", "cancelled"]
    assert nullable(work_order["priority"])["enum"] == ["none", "low", "medium", "high", "urgent"]
    assert nullable(components["PurchaseOrder"]["properties"]["status"])["enum"] == [
        "draft", "pending_approval", "approved", "open", "partially_received", "received", "closed", "cancelled"]
    assert nullable(components["PurchaseOrderLine"]["properties"]["status"])["enum"] == [
        "open", "partially_received", "received", "closed", "cancelled"]
    assert nullable(work_order["upstream_status"]) == {"type": "string"}, "the upstream's own code is open text"
    total = nullable(components["PurchaseOrder"]["properties"]["total"])
    assert total["type"] == "string" and total["format"] == "decimal" and "pattern" in total
    assert nullable(work_order["scheduled_start"]) == {"type": "string", "format": "date-time"}
    assert nullable(work_order["due_date"]) == {"type": "string", "format": "date"}


def test_it_documents_the_admin_keys_routes_for_one_connection(schema):
    """The same parameters and the same schemas as the token routes, under /connections/{id}/, for an admin key."""
    from connections.connectors.entities import ENTITIES, entity_path

    paths = schema["paths"]
    for entity in ENTITIES:
        mine, theirs = f"/api/v1/{entity_path(entity)}", f"/api/v1/connections/{{connection_id}}/{entity_path(entity)}"
        for suffix in ("", "/{record_id}"):
            token_route, admin_route = paths[mine + suffix]["get"], paths[theirs + suffix]["get"]
            assert admin_route["security"] == [{"AdminKey": []}]
            assert token_route["security"] == [{"ConnectionToken": []}]
            assert admin_route["tags"] == ["Records (admin)"]
            assert admin_route["responses"]["200"] == token_route["responses"]["200"]
            token_params = {p["name"]: p for p in token_route["parameters"]}
            admin_params = {p["name"]: p for p in admin_route["parameters"]}
            assert admin_params.pop("connection_id")["schema"]["format"] == "uuid"
            assert admin_params == token_params
    trigger = paths["/api/v1/connections/{connection_id}/syncs"]["post"]
    runs = paths["/api/v1/connections/{connection_id}/syncs"]["get"]
    assert (trigger["operationId"], runs["operationId"]) == ("trigger_connection_syncs", "list_connection_syncs")
    assert trigger["security"] == runs["security"] == [{"AdminKey": []}]
    assert trigger["responses"]["202"] == paths["/api/v1/syncs"]["post"]["responses"]["202"]
    assert trigger["requestBody"] == paths["/api/v1/syncs"]["post"]["requestBody"]
    assert "Idempotency-Key" in {p["name"] for p in trigger["parameters"] if p["in"] == "header"}
    token_runs = paths["/api/v1/syncs"]["get"]
    assert {p["name"] for p in runs["parameters"]} == {p["name"] for p in token_runs["parameters"]} | {"connection_id"}
