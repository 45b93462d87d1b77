import re

import pytest

from config.api_errors import ERROR_STATUSES

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
