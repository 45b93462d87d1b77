import json
import time

from django.core.management.base import BaseCommand, CommandError

from connections.cli import connection_lookup
from core.cli import catalog_command_error, cli_actor
from core.errors import CatalogError
from syncs.models import Mode, SyncRun, Trigger
from syncs.selectors import sync_run_payload
from syncs.services import sync_trigger


class Command(BaseCommand):
    help = "Queues a sync of a connection (all enabled entities unless --entity) and optionally waits for it."

    def add_arguments(self, parser):
        parser.add_argument("connection", help="Connection id, id prefix or name")
        parser.add_argument("--entity", action="append", dest="entities", help="Repeat for several")
        parser.add_argument("--full", action="store_true", help="Full re-sync with deletion detection")
        parser.add_argument("--wait", action="store_true", help="Wait for the runs to finish (a worker must run)")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds --wait waits at most")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        connection = connection_lookup(options["connection"])
        actor = cli_actor()
        try:
            triggered = sync_trigger(connection=connection, entities=options["entities"],
                                     mode=Mode.FULL if options["full"] else Mode.INCREMENTAL, trigger=Trigger.CLI,
                                     requested_by=actor.name, request_id=actor.request_id, actor=actor)
        except CatalogError as exc:
            raise catalog_command_error(exc) from None
        runs = [t.run for t in triggered]
        if options["wait"]:
            runs = self.wait(runs, timeout=options["timeout"])
        self.report(runs, triggered, as_json=options["json"])
        if any(run.status == SyncRun.Status.FAILED for run in runs):
            raise CommandError("a run failed", returncode=1)

    def wait(self, runs, *, timeout: float):
        deadline = time.monotonic() + timeout
        ids = [run.pk for run in runs]
        while True:
            runs = sorted(SyncRun.objects.filter(pk__in=ids), key=lambda r: ids.index(r.pk))
            if not any(run.is_active for run in runs):
                return runs
            if time.monotonic() > deadline:
                raise CommandError(f"timed out after {timeout:.0f}s; runs still active: "
                                   + ", ".join(str(r.pk) for r in runs if r.is_active))
            time.sleep(0.5)

    def report(self, runs, triggered, *, as_json: bool):
        created = {t.run.pk: t.created for t in triggered}
        if as_json:
            payload = [{**sync_run_payload(run), "created": created[run.pk]} for run in runs]
            self.stdout.write(json.dumps({"runs": payload}))
            return
        for run in runs:
            c = run.counts
            note = "" if created[run.pk] else " (already active)"
            self.stdout.write(f"{run.pk} {run.entity:<16} {run.mode:<11} {run.status:<9} created={c['created']} "
                              f"updated={c['updated']} unchanged={c['unchanged']} deleted={c['deleted']} "
                              f"failed={c['failed_records']} error={run.error_code or '-'}{note}")
