from django.core.management.base import BaseCommand

from connections.crypto_services import encryption_rotate


class Command(BaseCommand):
    help = "Re-encrypts every encrypted value under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        for label, count in encryption_rotate().items():
            self.stdout.write(f"{label}: {count} re-encrypted")
