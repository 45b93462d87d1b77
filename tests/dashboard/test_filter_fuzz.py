"""Every query parameter of every dashboard list page, fed hostile values: never a 500 (issue 11,
item 5). A value that does not parse is ignored; the page answers as if it were not there."""

import base64

import pytest
from django.urls import reverse

from connections.models import Connection, Customer
from tests.dashboard.factories import HTMX, audit_events, idle_connection, incidents, records, runs
from tests.webhooks.factories import DeliveryFactory, EndpointFactory

pytestmark = pytest.mark.django_db


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


HOSTILE = [
    "9223372036854775808", "99999999999999999999999999999999", "9" * 5000, "-1", "-9223372036854775809", "0",
    "²", "①", "١٢٣", "٣", "1e3", "0x10", "1_000", " 7 ", "",
    " ", "\x00", "1\x00", "a\x00b", "x" * 10_000, "é" * 3000, "' OR 1=1 --", "1; DROP TABLE connections_connection",
    "%", "_", "\\", "\n", "<script>alert(1)</script>", "🙂",
    "00000000-0000-0000-0000-00000000000g", "{00000000-0000-0000-0000-000000000000}",
    "urn:uuid:00000000-0000-0000-0000-000000000001", "00000000000000000000000000000001" + "0" * 40,
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59", "0001-01-01", "2026-13-45",
    "2026-06-15T10:30:00+99:00", "2026-06-15 10:30",
    _cursor("2026-01-01T00:00:00+00:00|99999999999999999999999"), _cursor("2026-01-01T00:00:00+00:00|²"),
    _cursor("9999-12-31T23:59:59-14:00|1"), _cursor("0001-01-01T00:00:00+14:00|1"),
    _cursor("2026-01-01T00:00:00|1"), _cursor("2026-01-01T00:00:00+00:00|-5"),
    _cursor("2026-01-01T00:00:00+00:00|not-a-uuid"), _cursor("2026-01-01T00:00:00+00:00|\x00"), "!!!!", "====",
    _cursor("45\x00|00000000-0000-0000-0000-000000000001"), _cursor("\U0010ffff|00000000-0000-0000-0000-000000000001"),
    _cursor("99999999999999999999|00000000-0000-0000-0000-000000000001"),
]

# What each list page reads from its query string (dashboard/views, dashboard/selectors).
PAGES = {
    "connections": ("q", "status", "connector", "customer", "page"),
    "runs": ("status", "entity", "trigger", "mode", "connection", "connection_q", "since", "until", "cursor"),
    "failures": ("status", "error_code", "connection", "connection_q", "page"),
    "audit": ("source", "action", "actor", "connection", "connection_q", "request_id", "since", "until", "cursor"),
    "connection_pick": ("q", "connection_q"),
    "webhooks": ("state", "page"),
    "webhook": ("status", "cursor"),
    "webhook_create": ("connection",),
    "overview": ("page",),
    "records": ("q", "deleted", "since", "cursor"),
}


@pytest.fixture
def data():
    connection = idle_connection()
    runs(connection, 3)
    incidents([connection])
    audit_events(3, connection=connection)
    endpoint = EndpointFactory(connection=connection)
    DeliveryFactory(endpoint=endpoint)
    records(connection, 3)
    return {"webhook": {"endpoint_id": endpoint.pk},
            "records": {"connection_id": connection.pk, "entity": "purchase_orders"}}


@pytest.mark.parametrize("page", PAGES)
def test_it_never_answers_500_to_a_hostile_filter(operator_client, data, page):
    operator_client.raise_request_exception = False
    url = reverse(f"dashboard:{page}", kwargs=data.get(page, {}))
    failures = []
    for name in PAGES[page]:
        for value in HOSTILE:
            for headers in ({}, HTMX):
                response = operator_client.get(url, {name: value}, **headers)
                if response.status_code != 200:
                    failures.append((name, value[:40], bool(headers), response.status_code))
    assert not failures


@pytest.mark.parametrize("query", ["customer=%FF%FE", "q=%C0%80", "connection=%00", "customer=%EF%BC%91",
                                   "status=a&status=b", "cursor=%ZZ", "since=%00", "connection_q=%00",
                                   "connection_q=%C0%80", "until=9999-12-31"])
def test_it_reads_raw_query_strings(operator_client, data, query):
    for page in ("connections", "runs", "audit", "failures", "connection_pick"):
        assert operator_client.get(reverse(f"dashboard:{page}"), QUERY_STRING=query).status_code == 200


@pytest.mark.parametrize("value", ["9223372036854775808", "²", "①", "-1", "1" * 19])
def test_it_ignores_a_customer_id_that_is_not_plain_ascii_digits(operator_client, data, value):
    response = operator_client.get(reverse("dashboard:connections"), {"customer": value})
    assert response.status_code == 200


def test_it_still_filters_by_a_customer_id(operator_client):
    kept, other = idle_connection(name="Kept"), idle_connection(name="Other")
    Connection.objects.filter(pk=other.pk).update(customer=Customer.objects.create(name="Someone else"))
    rows = operator_client.get(reverse("dashboard:connections"), {"customer": str(kept.customer_id)}).context["page"]
    assert [c.name for c in rows] == ["Kept"]


@pytest.mark.parametrize("current_url", ["http://[", "http://testserver/failures/?connection=%00&error_code=%00"])
def test_it_reads_a_garbled_current_url_of_an_htmx_action(operator_client, current_url):
    connection = idle_connection()
    incidents([connection])
    response = operator_client.post(reverse("dashboard:failures_acknowledge"),
                                    {"connection": str(connection.pk), "error_code": "UPSTREAM_SERVER_ERROR"},
                                    HTTP_HX_CURRENT_URL=current_url, **HTMX)
    assert response.status_code == 200 and "Acknowledged 1 incident" in response.content.decode()


@pytest.mark.parametrize("error_code", ["\x00", "x" * 5000, "①"])
def test_it_answers_404_to_a_group_action_on_garbage(operator_client, error_code):
    response = operator_client.post(reverse("dashboard:failures_acknowledge"),
                                    {"connection": "①", "error_code": error_code})
    assert response.status_code == 404
