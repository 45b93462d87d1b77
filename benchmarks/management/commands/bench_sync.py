from django.core.management.base import BaseCommand
from django.db import connection as db

from benchmarks.sync import bench_sync


class Command(BaseCommand):
    help = ("Full sync of N sandbox purchase orders into the configured database; prints records/s, peak memory "
            "and (on PostgreSQL) the write throughput as a ratio of a bare COPY of the same rows.")

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=100_000)
        parser.add_argument("--page-size", type=int, default=1000)

    def handle(self, *args, **options):
        r = bench_sync(records=options["records"], page_size=options["page_size"])
        self.stdout.write(f"database            {db.vendor}")
        self.stdout.write(f"records             {r.records}")
        self.stdout.write(f"end to end          {r.seconds:.2f} s  ->  {r.records_per_second:,.0f} records/s "
                          "(generate, normalize, hash, write)")
        self.stdout.write(f"write path, in run  {r.write_seconds:.2f} s  ->  "
                          f"{r.records / r.write_seconds:,.0f} records/s "
                          "(page transactions, sharing the CPU with reading)")
        self.stdout.write(f"write path alone    {r.write_alone_seconds:.2f} s  ->  "
                          f"{r.records / r.write_alone_seconds:,.0f} records/s (same pages, prepared beforehand)")
        if r.copy_seconds:
            self.stdout.write(f"bare COPY           {r.copy_seconds:.2f} s  ->  "
                              f"{r.records / r.copy_seconds:,.0f} records/s")
            self.stdout.write(f"write alone / COPY  {r.copy_ratio:.0%}")
        else:
            self.stdout.write("bare COPY           n/a (the embedded SQLite default has no COPY)")
        self.stdout.write(f"peak memory (RSS)   {r.peak_rss_mb:.0f} MB")
