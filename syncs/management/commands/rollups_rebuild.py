from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from syncs.rollups import ROLLUP_DAYS, rollups_rebuild


class Command(BaseCommand):
    help = ("Recomputes the per-hour run rollups the charts read from the runs retention kept: once after "
            "upgrading to a version with charts, or to repair them. Stop the workers first: a run finishing "
            "meanwhile may be miscounted.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=ROLLUP_DAYS, help=f"How far back (default {ROLLUP_DAYS})")

    def handle(self, *args, **options):
        result = rollups_rebuild(since=timezone.now() - timedelta(days=options["days"]))
        self.stdout.write(f"Rebuilt {result['rollups']} rollups in {result['hours']} hours since "
                          f"{result['since']:%Y-%m-%d %H:00} UTC.")
