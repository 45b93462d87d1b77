import pytest

from core.models import AuditEvent
from syncs.models import Incident
from tests.dashboard.factories import HTMX, auth_incident, connections, idle_connection, incidents, runs

pytestmark = pytest.mark.django_db


def test_it_says_all_is_well_when_nothing_is_open(viewer_client):
    assert "No open incidents" in viewer_client.get("/failures/").content.decode()


def test_it_groups_by_connection_and_error_code(viewer_client):
    a, b = connections(2)
    run = runs(a, 1, status="failed", error_code="UPSTREAM_SERVER_ERROR")[0]
    incidents([a], entity="vendors", last_run=run)
    incidents([a], entity="assets")
    incidents([a], error_code="MAPPING_FAILED")
    incidents([b])
    groups = viewer_client.get("/failures/").context["page"].object_list
    summary = {(g.connection.pk, g.error_code): (g.entities, g.occurrences) for g in groups}
    assert summary == {(a.pk, "UPSTREAM_SERVER_ERROR"): (["assets", "vendors"], 6),
                       (a.pk, "MAPPING_FAILED"): (["vendors"], 3), (b.pk, "UPSTREAM_SERVER_ERROR"): (["vendors"], 3)}
    body = viewer_client.get("/failures/").content.decode()
    assert f"/runs/{run.pk}/" in body and "Latest failed run" in body


def test_it_filters_by_code_status_and_connection(viewer_client):
    a, b = connections(2)
    incidents([a])
    incidents([b], error_code="MAPPING_FAILED", status=Incident.Status.ACKNOWLEDGED)
    codes = lambda **q: [g.error_code for g in viewer_client.get("/failures/", q).context["page"].object_list]  # noqa: E731
    assert codes(error_code="MAPPING_FAILED") == ["MAPPING_FAILED"]
    assert codes(status="open") == ["UPSTREAM_SERVER_ERROR"]
    assert codes(connection=str(b.pk)) == ["MAPPING_FAILED"]


def test_it_acknowledges_a_group(operator_client):
    a = idle_connection()
    incidents([a], entity="vendors")
    incidents([a], entity="assets")
    body = operator_client.post("/failures/acknowledge", {"connection": a.pk, "error_code": "UPSTREAM_SERVER_ERROR"},
                                **HTMX).content.decode()
    assert set(Incident.objects.values_list("status", flat=True)) == {"acknowledged"}
    assert set(Incident.objects.values_list("acknowledged_by", flat=True)) == {"operator"}
    assert body.lstrip().startswith('<div id="groups">') and "Acknowledged 2 incidents" in body
    event = AuditEvent.objects.get(action="incident.acknowledged", source="dashboard")
    assert event.details["entities"] == ["assets", "vendors"] and len(event.details["incidents"]) == 2


def test_it_acknowledges_a_group_without_javascript_with_one_audit_event(operator_client):
    a = idle_connection()
    incidents([a], entity="vendors")
    incidents([a], entity="assets")
    group = {"connection": a.pk, "error_code": "UPSTREAM_SERVER_ERROR"}
    response = operator_client.post("/failures/acknowledge", group, follow=True)
    assert response.redirect_chain == [("/failures/", 302)]
    assert AuditEvent.objects.filter(action="incident.acknowledged").count() == 1
    body = response.content.decode()
    assert "2 open</strong>, of which 2 acknowledged" in body, "acknowledged incidents are still open"


def test_it_resolves_a_group_with_one_audit_event(operator_client):
    a = idle_connection()
    incidents([a], entity="vendors")
    incidents([a], entity="assets")
    operator_client.post("/failures/resolve", {"connection": a.pk, "error_code": "UPSTREAM_SERVER_ERROR"}, **HTMX)
    assert set(Incident.objects.values_list("status", flat=True)) == {"resolved"}
    assert AuditEvent.objects.filter(action="incident.resolved").count() == 1


def test_it_shows_a_connection_level_incident_as_one_group_with_its_entities(viewer_client):
    a = idle_connection()
    auth_incident(a, entities=["assets", "purchase_orders", "vendors"])
    groups = viewer_client.get("/failures/").context["page"].object_list
    assert [(g.error_code, g.entities, g.connection_level) for g in groups] == [
        ("UPSTREAM_AUTHENTICATION_FAILED", ["assets", "purchase_orders", "vendors"], True)]
    body = viewer_client.get("/failures/").content.decode()
    assert body.count("<tr data-group=") == 1 and "Whole connection; stopped:" in body
    assert '<span class="chip">purchase orders</span>' in body


def test_it_counts_acknowledged_incidents_as_open(viewer_client):
    a, b = connections(2)
    incidents([a])
    auth_incident(b, status=Incident.Status.ACKNOWLEDGED)
    response = viewer_client.get("/failures/")
    assert response.context["counts"] == {"open": 2, "acknowledged": 1}
    body = response.content.decode()
    assert "2 open</strong>, of which 1 acknowledged" in body and "badge status-acknowledged" in body
    fragment = viewer_client.get("/failures/", {"status": "acknowledged"}, **HTMX)
    assert fragment.context["counts"] == {"open": 2, "acknowledged": 1}
    assert [g.error_code for g in fragment.context["page"].object_list] == ["UPSTREAM_AUTHENTICATION_FAILED"]


def test_it_keeps_the_page_filters_after_an_htmx_action(operator_client):
    a, b = connections(2)
    incidents([a])
    incidents([b], error_code="MAPPING_FAILED")
    form = {"connection": a.pk, "error_code": "UPSTREAM_SERVER_ERROR"}
    response = operator_client.post("/failures/acknowledge", form,
                                    **HTMX, HTTP_HX_CURRENT_URL="http://testserver/failures/?error_code=UPSTREAM_SERVER_ERROR")
    assert [g.error_code for g in response.context["page"].object_list] == ["UPSTREAM_SERVER_ERROR"]


def test_it_resolves_a_group_without_javascript(operator_client):
    a = idle_connection()
    incidents([a])
    response = operator_client.post("/failures/resolve", {"connection": a.pk, "error_code": "UPSTREAM_SERVER_ERROR"},
                                    follow=True)
    assert response.redirect_chain == [("/failures/", 302)]
    assert Incident.objects.get().status == Incident.Status.RESOLVED
    assert "No open incidents" in response.content.decode()


def test_it_acknowledges_and_resolves_one_incident_from_the_connection_page(operator_client):
    a = idle_connection()
    incident = incidents([a])[0]
    body = operator_client.post(f"/incidents/{incident.pk}/acknowledge", **HTMX).content.decode()
    assert body.lstrip().startswith('<section id="incidents">') and "badge status-acknowledged" in body
    operator_client.post(f"/incidents/{incident.pk}/resolve", **HTMX)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED


def test_it_keeps_an_acknowledged_incident_on_the_connection_page_counted_as_open(operator_client):
    a = idle_connection()
    incident = auth_incident(a)
    body = operator_client.post(f"/incidents/{incident.pk}/acknowledge", **HTMX).content.decode()
    assert '<small id="incident-counts">1 open, 1 acknowledged</small>' in body
    assert "by operator, still open" in body
    assert AuditEvent.objects.filter(action="incident.acknowledged").count() == 1


def test_it_acknowledges_one_incident_without_javascript(operator_client):
    a = idle_connection()
    incident = auth_incident(a)
    response = operator_client.post(f"/incidents/{incident.pk}/acknowledge", follow=True)
    assert response.redirect_chain == [(f"/connections/{a.pk}/", 302)]
    assert "Acknowledged UPSTREAM_AUTHENTICATION_FAILED on the connection." in response.content.decode()
    event = AuditEvent.objects.get(action="incident.acknowledged")
    assert (event.target_id, event.details["entities"]) == (str(incident.pk), ["assets", "vendors"])


def test_it_answers_404_for_an_empty_group(operator_client):
    a = idle_connection()
    assert operator_client.post("/failures/acknowledge", {"connection": a.pk, "error_code": "NOPE"}).status_code == 404


def test_it_hides_buttons_and_refuses_read_only_users(viewer_client):
    a = idle_connection()
    incident = incidents([a])[0]
    body = viewer_client.get("/failures/").content.decode()
    assert ">Acknowledge</button>" not in body and ">Resolve</button>" not in body
    for url in ("/failures/acknowledge", "/failures/resolve", f"/incidents/{incident.pk}/acknowledge",
                f"/incidents/{incident.pk}/resolve"):
        assert viewer_client.post(url, {"connection": a.pk, "error_code": "UPSTREAM_SERVER_ERROR"}).status_code == 403
    incident.refresh_from_db()
    assert incident.status == Incident.Status.OPEN


@pytest.mark.parametrize("rows", [1, 200])
def test_it_renders_in_a_bounded_number_of_queries(operator_client, django_assert_max_num_queries, rows):
    conns = connections(rows)
    incidents(conns)
    incidents(conns, entity="assets")
    with django_assert_max_num_queries(10):  # the open and acknowledged counts are one of them
        response = operator_client.get("/failures/")
    assert len(response.context["page"].object_list) == min(rows, 50)


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_it_picks_the_connection_by_customer_or_name(viewer_client, headers):
    a, b = connections(2, customers=2)
    incidents([a]), incidents([b], error_code="MAPPING_FAILED")
    body = viewer_client.get("/failures/", {"connection_q": "Customer 1"}, headers=headers).content.decode()
    groups = body.split('<div id="groups">')[1]
    assert "MAPPING_FAILED" in groups and "UPSTREAM_SERVER_ERROR" not in groups
    picked = viewer_client.get("/failures/", {"connection": str(a.pk)}, headers=headers).content.decode()
    assert "Failures of <a" in picked and "Bulk customer 0 / Bulk connection 000" in picked
    assert "MAPPING_FAILED" not in picked.split('id="groups"')[1]


def test_it_offers_the_connection_picker_in_its_filters(viewer_client):
    body = viewer_client.get("/failures/").content.decode()
    assert 'name="connection_q"' in body and 'hx-get="/connections/pick"' in body and "Connection id" not in body
