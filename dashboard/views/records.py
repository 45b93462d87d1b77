"""The record browser: a connection's records of one entity, and one record with its raw upstream copy."""

from django.shortcuts import render

from dashboard.forms import RecordFilterForm
from dashboard.selectors import records as selectors
from dashboard.views.common import VIEW_RECORDS, dashboard_view, template_for


@dashboard_view(VIEW_RECORDS)
def record_list(request, connection_id, entity):
    connection = selectors.record_connection_get(connection_id=connection_id)
    selectors.record_entity_check(connection=connection, entity=entity)
    filters = selectors.RecordFilters(**RecordFilterForm(request.GET).values())
    page = selectors.record_list(connection=connection, entity=entity, filters=filters,
                                 cursor=request.GET.get("cursor"))
    context = {"connection": connection, "entity": entity, "page": page, "filters": filters,
               "deleted_choices": selectors.DELETED_CHOICES}
    return render(request, template_for(request, "dashboard/records.html", "results"), context)


@dashboard_view(VIEW_RECORDS)
def record_detail(request, connection_id, entity, record_id):
    connection = selectors.record_connection_get(connection_id=connection_id)
    selectors.record_entity_check(connection=connection, entity=entity)
    record = selectors.record_get(connection=connection, entity=entity, record_id=record_id)
    context = {"connection": connection, "entity": entity, "record": record,
               "fields": selectors.record_fields(data=record.data),
               "changed_by": selectors.record_changed_by(record=record)}
    return render(request, template_for(request, "dashboard/record.html", "record"), context)
