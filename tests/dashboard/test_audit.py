from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from tests.dashboard.factories import HTMX, audit_events, connections

pytestmark = pytest.mark.django_db


def actions(response) -> list[str]:
    return [e.action for e in response.context["page"].rows]


def test_it_says_what_it_is_for_when_empty(viewer_client):
    assert "The audit log is empty" in viewer_client.get("/audit/").content.decode()


def test_it_filters_by_source_action_family_actor_connection_and_request_id(viewer_client):
    a = connections(1)[0]
    audit_events(1, connection=a, actor="anna", action="sync.full_requested")
    audit_events(1, actor="ben", action="incident.acknowledged")
    AuditEvent.objects.filter(actor="ben").update(source="api", request_id="req_find_me_1")
    assert actions(viewer_client.get("/audit/", {"source": "api"})) == ["incident.acknowledged"]
    assert actions(viewer_client.get("/audit/", {"action": "sync"})) == ["sync.full_requested"]
    assert actions(viewer_client.get("/audit/", {"action": "incident.acknowledged"})) == ["incident.acknowledged"]
    assert actions(viewer_client.get("/audit/", {"actor": "anna"})) == ["sync.full_requested"]
    assert actions(viewer_client.get("/audit/", {"connection": str(a.pk)})) == ["sync.full_requested"]
    assert actions(viewer_client.get("/audit/", {"request_id": "req_find_me_1"})) == ["incident.acknowledged"]


def test_it_filters_by_time_range(viewer_client):
    audit_events(2)
    AuditEvent.objects.filter(pk=AuditEvent.objects.order_by("pk").first().pk).update(
        at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert len(actions(viewer_client.get("/audit/", {"since": since}))) == 1
    assert len(actions(viewer_client.get("/audit/", {"until": since}))) == 1


def test_it_pages_by_keyset(viewer_client):
    audit_events(70)
    first = viewer_client.get("/audit/").context["page"]
    second = viewer_client.get("/audit/", {"cursor": first.next_cursor}).context["page"]
    assert len(first.rows) == 50 and len(second.rows) == 20 and second.next_cursor is None
    assert not {e.pk for e in first.rows} & {e.pk for e in second.rows}


def test_it_answers_htmx_with_the_results_only(viewer_client):
    audit_events(1)
    body = viewer_client.get("/audit/", {"source": "dashboard"}, **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="results">') and "<html" not in body


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(viewer_client, django_assert_max_num_queries, rows):
    conns = connections(5)
    for i in range(rows):
        audit_events(1, connection=conns[i % 5])
    with django_assert_max_num_queries(5):
        response = viewer_client.get("/audit/")
    assert len(response.context["page"].rows) == min(rows, 50)
