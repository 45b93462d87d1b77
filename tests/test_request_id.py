import pytest

pytestmark = pytest.mark.django_db


def test_it_adds_a_request_id_to_every_response(client):
    for path in ("/healthz", "/login/", "/", "/no-such-page"):
        assert client.get(path)["X-Request-ID"].startswith("req_")


def test_it_keeps_a_well_formed_incoming_request_id(client):
    assert client.get("/login/", HTTP_X_REQUEST_ID="abc-123456")["X-Request-ID"] == "abc-123456"
    assert client.get("/login/", HTTP_X_REQUEST_ID="bad id <script>")["X-Request-ID"].startswith("req_")
