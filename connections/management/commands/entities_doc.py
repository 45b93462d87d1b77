from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from connections.connectors.schema.reference import entities_markdown

PAGE = Path(settings.BASE_DIR) / "docs" / "entities.md"


class Command(BaseCommand):
    help = "Writes docs/entities.md from the unified schema; with --check, fails if the committed page differs."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Compare only; exit non-zero when out of date.")

    def handle(self, *args, check: bool = False, **options):
        page = entities_markdown()
        if check:
            if not PAGE.exists() or PAGE.read_text() != page:
                raise CommandError(f"{PAGE} is out of date: run `python manage.py entities_doc`.")
            self.stdout.write(f"{PAGE} is up to date.")
            return
        PAGE.write_text(page)
        self.stdout.write(f"Wrote {PAGE}.")
