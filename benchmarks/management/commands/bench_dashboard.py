"""Seeds a large data set and prints each dashboard page's p50 and p95 render time.

    python manage.py bench_dashboard                      # 10,000 connections, 1,000,000 runs and records
    python manage.py bench_dashboard --connections 500 --runs 20000 --iterations 10
    python manage.py bench_dashboard --skip-seed          # time the pages on what is already there

Use a scratch database: seeding refuses to add to one that has non-benchmark connections
unless --force is given.
"""

import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection as db
from django.test import Client

from benchmarks import dashboard as bench
from benchmarks import dashboard_records
from connections.models import Connection

TARGET_P95_MS = 150


class Command(BaseCommand):
    help = "Seed connections and runs in bulk, then time every dashboard page (p50/p95 through the test Client)."

    def add_arguments(self, parser):
        parser.add_argument("--connections", type=int, default=10_000)
        parser.add_argument("--runs", type=int, default=1_000_000)
        parser.add_argument("--audit-events", type=int, default=None, help="default: runs / 5")
        parser.add_argument("--deliveries", type=int, default=None, help="default: runs / 20")
        parser.add_argument("--records", type=int, default=None,
                            help="records of one connection's purchase orders, for the record browser; default: --runs")
        parser.add_argument("--iterations", type=int, default=30, help="timed requests per page")
        parser.add_argument("--skip-seed", action="store_true", help="time the pages on the data already there")
        parser.add_argument("--force", action="store_true", help="seed even if other connections exist")
        parser.add_argument("--only", default="", help="comma-separated page names (or parts of them) to time")

    def handle(self, *args, **options):
        now = bench.now_utc()
        if not options["skip_seed"]:
            self._seed(options, now)
        elif not Connection.objects.exists():
            raise CommandError("Nothing to time: the database has no connections (drop --skip-seed).")
        self._static_ready()
        client = Client()
        user, _ = get_user_model().objects.get_or_create(username="bench", defaults={
            "is_staff": True, "is_superuser": True, "email": "bench@example.com"})
        client.force_login(user)
        pages = bench.page_list(now=now) + dashboard_records.page_list(now=now)
        if options["only"]:
            wanted = [w.strip() for w in options["only"].split(",") if w.strip()]
            pages = [(name, url) for name, url in pages if any(w in name for w in wanted)]
        self.stdout.write(f"\nTiming {len(pages)} pages, {options['iterations']} requests each "
                          f"({db.vendor}, {Connection.objects.count()} connections):\n")
        results = bench.bench_pages(client=client, pages=pages, iterations=options["iterations"])
        self.stdout.write(f"{'page':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}  status")
        for r in results:
            flag = "" if r.p95 < TARGET_P95_MS else f"  over {TARGET_P95_MS} ms"
            self.stdout.write(f"{r.name:32} {r.p50:8.1f} {r.p95:8.1f} {r.worst:8.1f} {r.queries:8d}  {r.status}{flag}")
        bad = [r for r in results if r.status != 200]
        if bad:
            raise CommandError(f"pages did not answer 200: {', '.join(r.name for r in bad)}")
        slow = [r.name for r in results if r.p95 >= TARGET_P95_MS]
        self.stdout.write(self.style.SUCCESS("\nEvery page's p95 is under the target.") if not slow else
                          self.style.WARNING(f"\np95 over {TARGET_P95_MS} ms: {', '.join(slow)}"))

    def _static_ready(self):
        """Pages link the hashed static files, as in production: collect them if nobody has."""
        from django.contrib.staticfiles.storage import staticfiles_storage

        try:
            staticfiles_storage.url("css/app.css")
        except ValueError:
            self.stdout.write("Collecting static files (the manifest storage needs them)...")
            call_command("collectstatic", interactive=False, verbosity=0)

    def _seed(self, options, now):
        others = Connection.objects.exclude(customer__external_id__startswith=bench.BENCH_PREFIX).exists()
        if others and not options["force"]:
            raise CommandError("This database has connections that are not benchmark data; use a scratch database "
                               "(DATABASE_URL=...), or --force to add to it anyway.")
        runs = options["runs"]
        audit = options["audit_events"] if options["audit_events"] is not None else runs // 5
        deliveries = options["deliveries"] if options["deliveries"] is not None else runs // 20
        self.stdout.write(f"Seeding {options['connections']} connections, {runs} runs, {audit} audit events, "
                          f"{deliveries} webhook deliveries on {db.vendor}...")
        started = time.perf_counter()
        seeded = bench.seed(connections=options["connections"], runs=runs, audit_events=audit, deliveries=deliveries,
                            now=now, log=self.stdout.write)
        seeded.counts["records"] = dashboard_records.seed_records(
            n=options["records"] if options["records"] is not None else runs, now=now, log=self.stdout.write)
        self.stdout.write(f"Seeded in {time.perf_counter() - started:.1f} s: "
                          + ", ".join(f"{n} {what}" for what, n in seeded.counts.items()))
