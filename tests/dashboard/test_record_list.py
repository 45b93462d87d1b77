import base64
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from syncs.models import Record
from tests.dashboard.factories import HTMX, VIEW_PERMISSIONS, connections, grant, records

pytestmark = pytest.mark.django_db


def url(connection, entity="purchase_orders") -> str:
    return reverse("dashboard:records", args=[connection.pk, entity])


def numbers(response) -> list[str]:
    return [r.number for r in response.context["page"].rows]


@pytest.fixture
def connection():
    return connections(1)[0]


def test_it_lists_newest_change_first_with_a_human_entity_label(viewer_client, connection):
    records(connection, 3)
    response = viewer_client.get(url(connection))
    body = response.content.decode()
    assert numbers(response) == ["4500000002", "4500000001", "4500000000"]
    assert "Records: purchase orders" in body and "Order 2" in body
    assert '<div id="results">' in body and "<html" in body


def test_it_answers_htmx_with_the_results_region_only(viewer_client, connection):
    records(connection, 2)
    response = viewer_client.get(url(connection), {"q": "4500000001"}, **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="results">') and "<html" not in body
    assert "4500000001" in body and "4500000000" not in body
    assert "HX-Request" in response["Vary"]


def test_it_finds_a_number_exactly_or_by_its_start(viewer_client, connection):
    records(connection, 30)
    assert numbers(viewer_client.get(url(connection), {"q": "4500000017"})) == ["4500000017"]
    assert numbers(viewer_client.get(url(connection), {"q": " 450000001 "})) == [f"45000000{i}" for i in
                                                                                range(19, 9, -1)]
    assert numbers(viewer_client.get(url(connection), {"q": "4600"})) == []


def test_it_finds_a_remote_id_only_whole(viewer_client, connection):
    records(connection, 30)
    assert numbers(viewer_client.get(url(connection), {"q": "R12"})) == ["4500000012"]
    assert numbers(viewer_client.get(url(connection), {"q": "R1"})) == ["4500000001"]


def test_it_lists_a_remote_id_match_first_then_numbers_from_the_highest(viewer_client, connection):
    made = records(connection, 5)
    Record.objects.filter(pk=made[1].pk).update(remote_id="45000")  # a remote id that is also a number's start
    assert numbers(viewer_client.get(url(connection), {"q": "45000"})) == [
        "4500000001", "4500000004", "4500000003", "4500000002", "4500000000"]


def test_it_pages_search_results_by_number_without_gaps_or_repeats(viewer_client, connection):
    made = records(connection, 130)
    Record.objects.filter(pk=made[70].pk).update(remote_id="4500")
    seen = _walk(viewer_client, url(connection), {"q": "4500"})
    assert seen[0] == "4500000070" and len(seen) == 130 and set(seen) == {r.data["number"] for r in made}
    assert seen[1:] == sorted(seen[1:], reverse=True)


def test_it_finds_numbers_beyond_ascii(viewer_client, connection):
    records(connection, 3, prefix="ÄB-")
    assert numbers(viewer_client.get(url(connection), {"q": "ÄB"})) == ["ÄB-00002", "ÄB-00001", "ÄB-00000"]
    assert numbers(viewer_client.get(url(connection), {"q": "Ä\U0010ffff"})) == []


def test_it_never_finds_a_record_without_a_number_by_its_number(viewer_client, connection):
    made = records(connection, 2)
    Record.objects.filter(pk=made[0].pk).update(data={"remote_id": "R0", "number": None})
    Record.objects.filter(pk=made[1].pk).update(data={"remote_id": "R1"})
    for q in ("nul", "null", "None", "4500"):
        assert numbers(viewer_client.get(url(connection), {"q": q})) == []
    assert [r.remote_id for r in viewer_client.get(url(connection), {"q": "R0"}).context["page"].rows] == ["R0"]


def test_it_treats_like_wildcards_in_a_search_as_text(viewer_client, connection):
    records(connection, 5)
    assert numbers(viewer_client.get(url(connection), {"q": "%"})) == []
    assert numbers(viewer_client.get(url(connection), {"q": "45_0"})) == []


def test_it_filters_by_deleted(viewer_client, connection):
    made = records(connection, 4)
    Record.objects.filter(pk__in=[made[1].pk, made[3].pk]).update(deleted_at=timezone.now())
    assert numbers(viewer_client.get(url(connection), {"deleted": "deleted"})) == ["4500000003", "4500000001"]
    assert numbers(viewer_client.get(url(connection), {"deleted": "live"})) == ["4500000002", "4500000000"]
    assert len(numbers(viewer_client.get(url(connection), {"deleted": ""}))) == 4


@pytest.mark.parametrize("same_position", [1, 3])
def test_it_filters_by_changed_since_on_a_minute_boundary_or_between(viewer_client, connection, same_position):
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(days=1)
    records(connection, 60, start=start, same_position=same_position)
    # Positions change a minute apart: since the 10th position's minute keeps it and the ones after.
    since = start + timedelta(minutes=10)
    expected = {f"45000000{i:02d}" for i in range(10 * same_position, 60)}
    for value in (since.strftime("%Y-%m-%dT%H:%M"), since.isoformat(), (since - timedelta(seconds=30)).isoformat()):
        seen = _walk(viewer_client, url(connection), {"since": value})
        assert set(seen) == expected, value


def test_it_shows_nothing_changed_since_a_later_time(viewer_client, connection):
    records(connection, 5)
    response = viewer_client.get(url(connection), {"since": (timezone.now() + timedelta(hours=1)).isoformat()})
    assert numbers(response) == [] and "No record matches" in response.content.decode()


def test_it_combines_search_filters_and_changed_since(viewer_client, connection):
    start = timezone.now() - timedelta(days=1)
    made = records(connection, 30, start=start)
    Record.objects.filter(pk=made[25].pk).update(deleted_at=timezone.now())
    query = {"q": "450000002", "deleted": "live", "since": (start + timedelta(minutes=24)).isoformat()}
    assert numbers(viewer_client.get(url(connection), query)) == ["4500000029", "4500000028", "4500000027",
                                                                   "4500000026", "4500000024"]


@pytest.mark.parametrize("same_position", [1, 7])
def test_it_pages_by_keyset_without_gaps_or_repeats(viewer_client, connection, same_position):
    made = records(connection, 123, same_position=same_position)
    seen = _walk(viewer_client, url(connection), {})
    assert len(seen) == 123 and set(seen) == {r.data["number"] for r in made}


def test_it_keeps_the_filters_in_the_next_page_link(viewer_client, connection):
    records(connection, 80)
    response = viewer_client.get(url(connection), {"q": "45000000", "deleted": "live"})
    body = response.content.decode()
    assert "q=45000000&amp;deleted=live&amp;cursor=" in body


@pytest.mark.parametrize("q", ["", "45"])
def test_it_takes_a_tampered_cursor_as_the_first_page(viewer_client, connection, q):
    records(connection, 3)
    nul = base64.urlsafe_b64encode(f"45\x00|{uuid.uuid4()}".encode()).decode()
    for cursor in ("garbage", "MXxub3QtYS11dWlk", "x" * 500, nul):
        assert numbers(viewer_client.get(url(connection), {"q": q, "cursor": cursor}))[0] == "4500000002"


def test_it_ignores_filter_values_it_cannot_read(viewer_client, connection):
    records(connection, 3)
    assert len(numbers(viewer_client.get(url(connection), {"deleted": "maybe", "since": "yesterday"}))) == 3


def test_it_shows_only_this_connection_and_entity(viewer_client):
    a, b = connections(2)
    records(a, 2)
    records(b, 2, prefix="46000")
    records(a, 2, entity="work_orders", prefix="47000")
    assert numbers(viewer_client.get(url(a))) == ["4500000001", "4500000000"]
    assert numbers(viewer_client.get(url(a, "work_orders"))) == ["4700000001", "4700000000"]


def test_it_says_when_an_entity_has_no_records_yet(viewer_client, connection):
    response = viewer_client.get(url(connection, "inventory_items"))
    assert response.status_code == 200 and "No inventory items stored" in response.content.decode()


@pytest.mark.parametrize("entity", ["invoices", "purchase-orders"])
def test_it_answers_404_for_an_unknown_entity(viewer_client, connection, entity):
    assert viewer_client.get(url(connection, entity)).status_code == 404


def test_it_answers_404_for_an_entity_the_connection_neither_syncs_nor_holds(viewer_client, connection):
    connection.entities = ["vendors"]
    connection.save(update_fields=["entities"])
    assert viewer_client.get(url(connection, "assets")).status_code == 404


def test_it_answers_404_for_an_unknown_connection(viewer_client, connection):
    assert viewer_client.get(url(connection).replace(str(connection.pk), "0" * 8 + str(connection.pk)[8:])
                             ).status_code == 404


def test_it_needs_the_record_view_permission(client, django_user_model, connection):
    records(connection, 1)
    user = grant(django_user_model.objects.create_user("no-records", password="pw", is_staff=True),
                 *(p for p in VIEW_PERMISSIONS if p != "syncs.view_record"))
    client.force_login(user)
    assert client.get(url(connection)).status_code == 403
    assert client.get(url(connection), **HTMX).status_code == 403


def test_it_is_linked_from_the_connection_page_for_who_may_browse(client, viewer_client, django_user_model,
                                                                  connection):
    link, page = url(connection, "vendors"), reverse("dashboard:connection", args=[connection.pk])
    assert link in viewer_client.get(page).content.decode()
    client.force_login(grant(django_user_model.objects.create_user("no-records", password="pw", is_staff=True),
                             *(p for p in VIEW_PERMISSIONS if p != "syncs.view_record")))
    body = client.get(page).content.decode()
    assert "Bulk connection 000" in body and link not in body


def _walk(client, path: str, query: dict) -> list[str]:
    seen, cursor = [], None
    while True:
        response = client.get(path, {**query, **({"cursor": cursor} if cursor else {})})
        seen += numbers(response)
        cursor = response.context["page"].next_cursor
        if not cursor:
            return seen
