import json

from django.core.management.base import BaseCommand

from core.cli import catalog_command_error, cli_actor, json_argument
from core.errors import CatalogError
from syncs.lifecycle import connection_create


class Command(BaseCommand):
    help = ("Creates a connection: validates, checks the credentials, queues the initial full sync, "
            "prints the token once.")

    def add_arguments(self, parser):
        parser.add_argument("--customer", required=True, help="Customer name (created if new)")
        parser.add_argument("--connector", required=True, help="Connector key, e.g. sandbox")
        parser.add_argument("--name", required=True)
        parser.add_argument("--config", help="JSON object")
        parser.add_argument("--credentials", help="JSON object")
        parser.add_argument("--entities", nargs="+", metavar="ENTITY",
                            help="Entities to sync, e.g. purchase_orders vendors (default: all the connector has)")
        parser.add_argument("--json", action="store_true", help='Print {"id": ..., "token": ...}')

    def handle(self, *args, **options):
        config = json_argument(options["config"], name="config")
        credentials = json_argument(options["credentials"], name="credentials")
        try:
            connection, token = connection_create(customer_name=options["customer"], connector=options["connector"],
                                                  name=options["name"], config=config, credentials=credentials,
                                                  entities=_entities(options["entities"]), actor=cli_actor())
        except CatalogError as exc:
            raise catalog_command_error(exc) from None
        if options["json"]:
            self.stdout.write(json.dumps({"id": str(connection.pk), "token": token}))
            return
        self.stdout.write(f"Created connection {connection.pk} ({connection.name}) for "
                          f"{', '.join(connection.entities)}; initial full sync queued.")
        self.stdout.write(f"Token (shown once, store it now): {token}")


def _entities(names: list[str] | None) -> list[str] | None:
    # purchase-orders as in API paths, or purchase_orders as stored; the service refuses unknown ones.
    return [name.replace("-", "_") for name in names] if names else None
