"""Priority and fair shares under load, with a real Celery worker (docs/performance.md).

    python manage.py bench_scheduling                       # 3,000 scheduled runs, 20 Sync now
    python manage.py bench_scheduling --runs 200 --manual 5 # a quick check
    python manage.py bench_scheduling --concurrency 3 --long-entities 3   # puts the slot cap to the test

Use a scratch database with no worker or beat of its own: the bench starts its own worker, and
the scheduler service it calls queues every due connection, so it refuses a database with other
connections unless --force is given. It deletes what it made.
"""

import json
import os

from django.core.management.base import BaseCommand, CommandError

from benchmarks.scheduling import Scenario, bench_scheduling, foreign_connections
from benchmarks.scheduling_report import lines, summary


def _bounded(name: str, value, low, high):
    if not low <= value <= high:
        raise CommandError(f"--{name} must be between {low} and {high}")
    return value


class Command(BaseCommand):
    help = ("Drains a backlog of scheduled runs behind two long syncs with a real Celery worker, twice (without "
            "and with Sync now pressed during it); prints manual start p50/p95, backlog throughput and its ratio, "
            "lateness against due time, and the most runs of one connection at once against its cap.")

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=3000, help="scheduled runs in the backlog (default 3000)")
        parser.add_argument("--manual", type=int, default=20, help="Sync now presses in the second pass (default 20)")
        parser.add_argument("--long-pages", type=int, default=None,
                            help="pages of each long sync (default: runs / 10, at least 20)")
        parser.add_argument("--slow-page-seconds", type=float, default=0.5,
                            help="the long syncs' upstream time per page (default 0.5)")
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY") or 2),
                            help="the worker's --concurrency (default WORKER_CONCURRENCY, else 2)")
        parser.add_argument("--long-entities", type=int, default=1,
                            help="entities of each long connection, each a run of its own (default 1)")
        parser.add_argument("--records", type=int, default=5, help="records of each backlog connection (default 5)")
        parser.add_argument("--tick-seconds", type=float, default=1.0,
                            help="how often the bench calls the scheduler service (default 1; beat's is 30)")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds per pass before giving up")
        parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
        parser.add_argument("--force", action="store_true", help="run even if the database has other connections")

    def handle(self, *args, **options):
        runs = _bounded("runs", options["runs"], 1, 100_000)
        scenario = Scenario(
            runs=runs, manual=_bounded("manual", options["manual"], 1, 1000),
            long_pages=_bounded("long-pages", options["long_pages"] or max(20, runs // 10), 1, 100_000),
            slow_page_seconds=_bounded("slow-page-seconds", options["slow_page_seconds"], 0.0, 60.0),
            concurrency=_bounded("concurrency", options["concurrency"], 1, 64),
            long_entities=_bounded("long-entities", options["long_entities"], 1, 6),
            records=_bounded("records", options["records"], 1, 10_000),
            tick_seconds=_bounded("tick-seconds", options["tick_seconds"], 0.05, 60.0),
            timeout=_bounded("timeout", options["timeout"], 1.0, 86_400.0))
        if foreign_connections() and not options["force"]:
            raise CommandError("This database has connections that are not this benchmark's: the scheduler service "
                               "it calls would sync them too. Use a scratch database (DATABASE_URL=...), or --force.")
        log = (lambda text: self.stderr.write(text)) if options["json"] else self.stdout.write
        try:
            result = bench_scheduling(scenario=scenario, log=log)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(summary(result), indent=2, default=str))
            return
        self.stdout.write("")
        for line in lines(result):
            self.stdout.write(line)
