"""Reads of customers and connections for the API (and anyone else who needs them)."""

from django.db.models import QuerySet

from connections.models import Connection


def connection_list(*, status: str | None = None, connector: str | None = None, customer_id: int | None = None,
                    customer_external_id: str | None = None) -> QuerySet[Connection]:
    connections = Connection.objects.select_related("customer")
    filters = {"status": status, "connector": connector, "customer_id": customer_id,
               "customer__external_id": customer_external_id}
    return connections.filter(**{name: value for name, value in filters.items() if value is not None})


def connection_get(*, connection_id) -> Connection | None:
    return Connection.objects.select_related("customer").filter(pk=connection_id).first()
