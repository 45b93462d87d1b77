from django.db.models import Count

from connections.models import Connection


def overview_summary() -> dict:
    by_status = dict(Connection.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {"connections_by_status": by_status, "connections_total": sum(by_status.values())}
