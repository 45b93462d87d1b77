import json

from django.core.management.base import BaseCommand

from connections.cli import connection_lookup
from connections.services import connection_token_rotate
from core.cli import catalog_command_error, cli_actor
from core.errors import CatalogError


class Command(BaseCommand):
    help = "Issues a new API token for a connection and prints it once; the old token stops working at once."

    def add_arguments(self, parser):
        parser.add_argument("connection", help="Connection id, id prefix or exact name")
        parser.add_argument("--json", action="store_true", help='Print {"id": ..., "token": ...}')

    def handle(self, *args, **options):
        connection = connection_lookup(options["connection"])
        try:
            token = connection_token_rotate(connection=connection, actor=cli_actor())
        except CatalogError as exc:
            raise catalog_command_error(exc) from None
        if options["json"]:
            self.stdout.write(json.dumps({"id": str(connection.pk), "token": token,
                                          "token_prefix": connection.token_prefix}))
            return
        self.stdout.write(f"New token for {connection.name} ({connection.pk}); the previous token no longer works.")
        self.stdout.write(f"Token (shown once, store it now): {token}")
