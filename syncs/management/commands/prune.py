import json

from django.core.management.base import BaseCommand

from core.retention import PruneReport
from syncs.retention import history_prune


class Command(BaseCommand):
    help = ("Prunes history past its retention (runs, webhook deliveries and events, audit events), as the "
            "hourly task does; --dry-run only counts what would go and what each rule keeps.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing")
        parser.add_argument("--batch-size", type=int, help="Rows per transaction (default RETENTION_BATCH_SIZE)")
        parser.add_argument("--seconds", type=float, help="Time budget (default RETENTION_PRUNE_SECONDS)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        reports = history_prune(dry_run=options["dry_run"], batch_size=options["batch_size"],
                                seconds=options["seconds"])
        if options["json"]:
            self.stdout.write(json.dumps({"dry_run": options["dry_run"], "kinds": [vars(r) for r in reports]}))
            return
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was deleted.")
        for report in reports:
            self.stdout.write(self.line(report, dry_run=options["dry_run"]))
        if not all(report.done for report in reports):
            self.stdout.write("The time budget ran out: the next prune goes on from here.")

    def line(self, report: PruneReport, *, dry_run: bool) -> str:
        limit = f" (older than {report.days} days)" if report.days else ""
        text = f"{report.kind}{limit}: {report.deleted} {'would go' if dry_run else 'deleted'}"
        if report.cascaded:
            text += ", with " + ", ".join(f"{n} {name}" for name, n in report.cascaded.items())
        if dry_run and report.older is not None:
            text += f"\n  past the limit: {report.older}, within it: {report.recent}"
            if report.kept:
                text += "\n  kept past the limit: " + ", ".join(f"{name} {n}" for name, n in report.kept.items())
        return text
