from django.core.management.base import BaseCommand, CommandError

from core.api_keys import api_key_revoke
from core.cli import cli_actor
from core.models import ApiKey


class Command(BaseCommand):
    help = "Revokes an API admin key, given its visible prefix (sk_...) or its id."

    def add_arguments(self, parser):
        parser.add_argument("key", help="The key's prefix as listed in the admin, or its id")

    def handle(self, *args, **options):
        value = options["key"].strip()
        keys = ApiKey.objects.filter(key_prefix=value[:12]) if value.startswith("sk_") else (
            ApiKey.objects.filter(pk=int(value)) if value.isdigit() else ApiKey.objects.none())
        matches = list(keys[:2])
        if len(matches) != 1:
            raise CommandError(f"NOT_FOUND: no single admin key matches {value!r}")
        api_key = api_key_revoke(api_key=matches[0], actor=cli_actor())
        self.stdout.write(f"Revoked admin key {api_key.key_prefix}... ({api_key.name}) "
                          f"at {api_key.revoked_at:%Y-%m-%d %H:%M:%S} UTC.")
