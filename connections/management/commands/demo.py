import os

from django.core.management.base import BaseCommand

from connections.demo import demo_seed


class Command(BaseCommand):
    help = "Creates the demo user `admin` and a few customers with sandbox connections. Safe to run again."

    def handle(self, *args, **options):
        result = demo_seed()
        for line in result.lines:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(
            f"Log in at http://127.0.0.1:{os.environ.get('PORT', '8000')}/ "
            f"as `admin` with password: {result.password}"))
