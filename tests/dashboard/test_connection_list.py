import pytest

from connections.models import Connection
from tests.dashboard.factories import HTMX, connections, incidents, runs
from tests.syncs.factories import sandbox_connection

pytestmark = pytest.mark.django_db


def test_it_needs_a_login(client):
    assert client.get("/connections/").status_code == 302


def test_it_lists_connections_with_badges_last_sync_and_open_incidents(viewer_client):
    conn = connections(1)[0]
    incidents([conn])
    body = viewer_client.get("/connections/").content.decode()
    assert conn.name in body
    assert 'class="badge status-active"' in body
    assert "<time" in body  # last sync, relative with the absolute time on hover
    assert f'href="/failures/?connection={conn.pk}">1</a>' in body


def test_it_searches_by_name_customer_and_token_prefix(viewer_client):
    a = sandbox_connection(name="Hamburg plant")
    sandbox_connection(name="Lyon plant")
    names = lambda q: [c.name for c in viewer_client.get("/connections/", {"q": q}).context["page"].object_list]  # noqa: E731
    assert names("hamburg") == ["Hamburg plant"]
    assert names("Test Customer") == ["Hamburg plant", "Lyon plant"]
    assert names(a.token_prefix) == ["Hamburg plant"]
    assert names(str(a.pk)) == ["Hamburg plant"]


def test_it_filters_by_status_connector_and_customer(viewer_client):
    active, paused = connections(2, customers=2)
    Connection.objects.filter(pk=paused.pk).update(status=Connection.Status.PAUSED)
    page = viewer_client.get("/connections/", {"status": "paused"}).context["page"]
    assert [c.pk for c in page.object_list] == [paused.pk]
    page = viewer_client.get("/connections/", {"customer": str(active.customer_id)}).context["page"]
    assert [c.pk for c in page.object_list] == [active.pk]
    assert viewer_client.get("/connections/", {"connector": "nope"}).context["page"].paginator.count == 0


def test_it_paginates(viewer_client):
    connections(60)
    first = viewer_client.get("/connections/").context["page"]
    second = viewer_client.get("/connections/", {"page": 2}).context["page"]
    assert len(first.object_list) == 50 and len(second.object_list) == 10
    assert "Next →" in viewer_client.get("/connections/").content.decode()


def test_it_says_what_to_do_when_nothing_matches(viewer_client):
    connections(1)
    body = viewer_client.get("/connections/", {"q": "zzz"}).content.decode()
    assert "No connection matches these filters" in body and "Clear the filters" in body


def test_it_answers_htmx_with_the_results_only(viewer_client):
    connections(2)
    body = viewer_client.get("/connections/", {"q": "Bulk"}, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="results">') and "<html" not in body


def test_it_hides_the_connect_button_from_read_only_users(viewer_client):
    assert "+ Connect a system" not in viewer_client.get("/connections/").content.decode()


def test_it_shows_the_connect_button_to_operators(operator_client):
    assert "+ Connect a system" in operator_client.get("/connections/").content.decode()


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(viewer_client, django_assert_max_num_queries, rows):
    conns = connections(rows, customers=min(rows, 20))
    incidents(conns)
    runs(conns[0], 1, status="running")
    with django_assert_max_num_queries(10):
        response = viewer_client.get("/connections/")
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == min(rows, 50)


def test_it_gives_the_whole_page_to_an_htmx_history_restore(viewer_client):
    response = viewer_client.get("/connections/", **HTMX, HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()
    assert "HX-Request" in response["Vary"]
