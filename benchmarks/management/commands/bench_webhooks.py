from django.core.management.base import BaseCommand, CommandError

from benchmarks.webhooks import bench_run


class Command(BaseCommand):
    help = ("Delivers N events to a local HTTPS receiver through the delivery service code path and compares "
            "the throughput with a bare httpx loop. Creates a temporary endpoint and deletes it after.")

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, required=True, help="How many events to deliver.")
        parser.add_argument("--rate", type=float, help="Emit at this steady rate (events/s) instead of flat out.")
        parser.add_argument("--processes", type=int, default=2,
                            help="Delivery worker processes, like a worker's --concurrency (default 2).")
        parser.add_argument("--threads", type=int, default=1,
                            help="Delivery threads per process, like a threaded worker pool (default 1).")

    def handle(self, *args, events: int, rate: float | None, processes: int, threads: int, **options):
        try:
            report = bench_run(events=events, rate=rate, processes=processes, threads=threads)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for line in report.lines:
            self.stdout.write(line)
