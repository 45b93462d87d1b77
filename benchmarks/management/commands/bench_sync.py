from django.core.management.base import BaseCommand
from django.db import connection as db

from benchmarks.resync import bench_resync
from benchmarks.sync import bench_sync


class Command(BaseCommand):
    help = ("Full sync of N sandbox purchase orders into the configured database; prints records/s, peak memory "
            "and (on PostgreSQL) the write throughput as a ratio of a bare COPY of the same rows. --resync adds "
            "a full re-sync of the same records unchanged, against their initial load.")

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=100_000)
        parser.add_argument("--page-size", type=int, default=1000)
        parser.add_argument("--resync", action="store_true",
                            help="also time a full re-sync where nothing changed (it should write no record)")

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
            self.stdout.write(f"end to end / COPY   {r.copy_seconds / r.seconds:.0%}")
        else:
            self.stdout.write("bare COPY           n/a (the embedded SQLite default has no COPY)")
        if options["resync"]:
            self.resync(records=options["records"], page_size=options["page_size"])
        self.stdout.write(f"peak memory (RSS)   {r.peak_rss_mb:.0f} MB")

    def resync(self, *, records: int, page_size: int) -> None:
        s = bench_resync(records=records, page_size=page_size)
        self.stdout.write(f"initial load        {s.load_seconds:.2f} s  ->  {s.load_rate:,.0f} records/s "
                          "(the re-sync's own connection, empty to full)")
        self.stdout.write(f"unchanged re-sync   {s.resync_seconds:.2f} s  ->  {s.resync_rate:,.0f} records/s "
                          f"(full mode, {s.pages} pages; page transactions {s.resync_write_seconds:.2f} s)")
        self.stdout.write(f"re-sync / load      {s.ratio:.2f}x")
        written = "n/a (SQLite)" if s.rows_written is None else f"{s.rows_written}"
        self.stdout.write(f"rows rewritten      {written} (record rows whose version changed in the re-sync)")
