import json

from django.core.management.base import BaseCommand

from core.api_keys import api_key_create
from core.cli import catalog_command_error, cli_actor
from core.errors import CatalogError


class Command(BaseCommand):
    help = "Creates an API admin key (sk_...) and prints it once. Revoke it with revoke_admin_key or in the admin."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Who or what uses the key")
        parser.add_argument("--json", action="store_true", help='Print {"key": ..., "id": ..., "prefix": ...}')

    def handle(self, *args, **options):
        try:
            api_key, key = api_key_create(name=options["name"], actor=cli_actor())
        except CatalogError as exc:
            raise catalog_command_error(exc) from None
        if options["json"]:
            self.stdout.write(json.dumps({"key": key, "id": api_key.pk, "name": api_key.name,
                                          "prefix": api_key.key_prefix}))
            return
        self.stdout.write(f"Created admin key {api_key.key_prefix}... ({api_key.name}).")
        self.stdout.write(f"Key (shown once, store it now): {key}")
