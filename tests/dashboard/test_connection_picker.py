"""The filter forms' connection picker: /connections/pick suggests connections by customer or
connection name, as radio options the runs, failures and audit filters submit by id."""

import re
import time

import pytest

from connections.models import Connection, Customer
from dashboard.selectors.connections import PICK_LIMIT
from tests.dashboard.factories import HTMX, connections

pytestmark = pytest.mark.django_db
# The session, the user, the user's and its groups' permissions, and the one query of suggestions.
QUERIES = 5


def options(response) -> list[str]:
    return re.findall(r'<input type="radio" name="connection" value="([0-9a-f-]{36})">', response.content.decode())


def test_it_needs_a_login(client):
    assert client.get("/connections/pick", {"q": "x"}).status_code == 302


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_suggests_connections_by_customer_or_name(viewer_client, headers):
    acme = Customer.objects.create(name="Acme Foods")
    plant = Connection.objects.create(customer=acme, connector="sandbox", name="Main plant", status="active")
    other = connections(2)
    by_customer = viewer_client.get("/connections/pick", {"connection_q": "acme"}, headers=headers)
    assert options(by_customer) == [str(plant.pk)]
    body = by_customer.content.decode()
    assert body.lstrip().startswith('<span class="pick-options"') and "<html" not in body
    assert f'<input type="radio" name="connection" value="{plant.pk}"> Acme Foods / Main plant' in body
    assert options(viewer_client.get("/connections/pick", {"q": "BULK CONNECTION 001"}, headers=headers)) == [
        str(other[1].pk)]


def test_it_finds_a_pasted_id_and_says_when_nothing_matches(viewer_client):
    conn = connections(1)[0]
    assert options(viewer_client.get("/connections/pick", {"q": str(conn.pk)})) == [str(conn.pk)]
    body = viewer_client.get("/connections/pick", {"q": "nothing like it"}).content.decode()
    assert "No connection matches “nothing like it”." in body


def test_it_suggests_a_bounded_number_and_asks_for_more_of_the_name(viewer_client, django_assert_num_queries):
    connections(PICK_LIMIT + 5)
    with django_assert_num_queries(QUERIES):
        response = viewer_client.get("/connections/pick", {"q": "bulk"})
    assert len(options(response)) == PICK_LIMIT and "More match: type more of the name." in response.content.decode()


def test_it_takes_a_nul_or_a_long_box_without_an_error(viewer_client):
    assert viewer_client.get("/connections/pick", {"q": "a\x00b"}).status_code == 200
    assert viewer_client.get("/connections/pick", {"q": "x" * 5000}).status_code == 200


@pytest.mark.parametrize("page", ["/runs/", "/failures/", "/audit/"])
def test_it_works_without_javascript_on_every_filter(viewer_client, page):
    """A plain GET with what was typed filters by name and lists the matches to pick from."""
    a = connections(1)[0]
    body = viewer_client.get(page, {"connection_q": "connection 000"}).content.decode()
    assert 'value="connection 000"' in body and f'name="connection" value="{a.pk}"> Bulk customer 0 / ' in body
    picked = viewer_client.get(page, {"connection": str(a.pk)}).content.decode()
    assert f'<input type="hidden" name="connection" value="{a.pk}">' in picked and "Bulk customer 0 / Bulk" in picked
    assert 'name="connection_q"' not in picked


def test_it_stays_one_bounded_query_at_ten_thousand_connections(viewer_client, django_assert_num_queries):
    """Prints its timing (no timed assertion): a few milliseconds on SQLite, an icontains scan of
    10k rows."""
    connections(10_000, customers=50)
    for q in ("bulk connection 9999", "customer 4", "zzz"):
        started = time.perf_counter()
        with django_assert_num_queries(QUERIES):
            response = viewer_client.get("/connections/pick", {"q": q}, **HTMX)
        print(f"pick {q!r} at 10k connections: {(time.perf_counter() - started) * 1000:.1f} ms, "
              f"{len(options(response))} suggestions")
        assert len(options(response)) <= PICK_LIMIT
