"""Connecting through a connect link (docs/connect-links.md): the customer's settings go through
connection_create, like every other path, and in its transaction the link is spent and the
`connection.created` webhook event is written; the initial full sync is queued by it too.

Here, above connections and webhooks, because it spans both (docs/architecture.md, "Where things live").
"""

from connections.connect_links import connect_link_consume, connect_link_require_connector, link_actor
from connections.connectors.registry import connector_class
from connections.models import Connection, ConnectLink
from core.audit import audit_record
from core.errors import CatalogError
from syncs.lifecycle import connection_create
from webhooks.services import event_emit


def connect_link_connect(*, link: ConnectLink, connector: str, config: dict, credentials: dict,
                         request_id: str = "") -> Connection:
    """Creates the customer's connection from the page's settings; the link's entities, the
    connector's name. Raises the catalogued error of a refused setting or credential, or NOT_FOUND
    when the link was spent or revoked meanwhile (then nothing is saved)."""
    connect_link_require_connector(link=link, connector=connector)
    actor = link_actor(link, request_id=request_id)

    def spend(connection: Connection) -> None:
        spent = connect_link_consume(link=link, connection=connection, actor=actor)
        customer = connection.customer
        event_emit(type="connection.created", connection=connection, data={
            "connection": {"id": str(connection.pk), "name": connection.name, "connector": connection.connector,
                           "entities": connection.entities, "status": connection.status},
            "customer": {"id": customer.pk, "name": customer.name, "external_id": customer.external_id},
            "connect_link_id": str(spent.pk)})

    try:
        connection, _token = connection_create(
            customer_name=link.customer.name, customer=link.customer, connector=connector,
            name=connector_class(connector).name, config=config, credentials=credentials,
            entities=link.entities or None, actor=actor, within=spend)
    except CatalogError as exc:
        # Audited like a test: the connector and the code, nothing that was typed.
        audit_record(actor=actor, action="connect_link.connect_refused", target=link,
                     details={"connector": connector, "code": exc.code})
        raise
    # The connection token is not the customer's: the company reads the connection through its admin key.
    return connection
