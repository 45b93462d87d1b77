"""bench_scheduling: priority and fair shares under load, with real Celery workers.

One pass: two long full syncs (a slow upstream) take the worker slots first; then N small
connections fall due at once and the scheduler service (`syncs_schedule_due`, beat's every-30-s
task) is called in a loop to queue their runs; in the second pass, people also press Sync now on
other connections while the backlog drains. The figures come from the runs' own timestamps
(started_at, finished_at, written by the workers on this machine's clock) and from sampling the
running runs every ~0.2 s. The method is in docs/performance.md ("bench_scheduling").
"""

import statistics
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection as db
from django.db.models import Count, Sum
from django.utils import timezone

from benchmarks.scheduling_workers import HOSTNAME_PREFIX, BenchWorker
from connections.connectors.registry import connector_class
from connections.models import Connection, Customer
from connections.services import connection_settings_check
from core.audit import Actor
from core.models import AuditEvent
from syncs.models import Mode, Record, SyncRun, SyncState, Trigger, WorkerHeartbeat
from syncs.services import sync_run_cancel, sync_trigger, syncs_schedule_due
from webhooks.models import Event

CUSTOMER_EXTERNAL_ID = "bench-scheduling"  # "bench-": bench_dashboard counts it as benchmark data too
CUSTOMER_NAME = "Benchmark (scheduling)"
ENTITY = "purchase_orders"
LONG_PAGE_SIZE = 20  # small pages: a long sync's time is its slow upstream's, not our CPU's
BACKLOG, MANUAL, LONG = "backlog-", "manual-", "long-"
# Sync now pressed in the dashboard, as ops would: a manual run, with its audit event.
OPS = Actor(name="bench-scheduling", source=AuditEvent.Source.DASHBOARD)
SYSTEM = Actor(name="bench-scheduling", source=AuditEvent.Source.SYSTEM)
FINISHED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED, SyncRun.Status.CANCELLED)


@dataclass(frozen=True)
class Scenario:
    runs: int = 3000
    manual: int = 20
    long_pages: int = 300
    slow_page_seconds: float = 0.5
    concurrency: int = 2
    records: int = 5  # per backlog connection
    long_entities: int = 1  # entities of each long connection, each a full run of its own
    tick_seconds: float = 1.0  # how often the bench calls the scheduler service
    sample_seconds: float = 0.2
    timeout: float = 3600.0  # per pass


@dataclass
class Seeded:
    customer: Customer
    manual: list[Connection]
    long: list[Connection]


@dataclass
class PassResult:
    label: str
    seconds: float  # from the backlog falling due to the last backlog or manual run finished
    queued_seconds: float | None  # from the backlog falling due to its last run queued by the scheduler
    timed_out: bool
    backlog: int
    succeeded: int
    failed: int
    unfinished: int
    throughput: float | None  # succeeded / (last finished - due), runs/s
    drain_throughput: float | None  # succeeded / (last finished - first started)
    lateness: list[float]  # started_at - due time, s, per backlog run that started
    manual_pressed: int
    manual_starts: list[float]  # started_at - the press, s, per manual run that started
    manual_priorities: list[int]
    max_per_connection: int
    max_running: int
    busy_slots: float  # mean running runs per sample / slots
    long_slots: float  # of which the long syncs held, mean / slots
    samples: int
    yields: dict[str, int]
    long_outlasted_backlog: bool  # were the long syncs still active when the backlog was done?


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# --- data ----------------------------------------------------------------------------------------

def foreign_connections() -> bool:
    """Connections that are not this bench's: the scheduler service would queue theirs too."""
    return Connection.objects.exclude(customer__external_id=CUSTOMER_EXTERNAL_ID).exists()


def seed(*, scenario: Scenario) -> Seeded:
    """The connections straight into the tables (no initial syncs), with their states not due."""
    customer, _ = Customer.objects.get_or_create(external_id=CUSTOMER_EXTERNAL_ID, defaults={"name": CUSTOMER_NAME})
    small = _config(records={ENTITY: scenario.records}, page_size=100, entities=[ENTITY])
    entities = [ENTITY, *(e for e in connector_class("sandbox").entities if e != ENTITY)][:scenario.long_entities]
    long = _config(records=dict.fromkeys(entities, scenario.long_pages * LONG_PAGE_SIZE), page_size=LONG_PAGE_SIZE,
                   entities=entities, faults={"slow_page_seconds": scenario.slow_page_seconds})
    rows = ([_connection(customer, f"{BACKLOG}{i:06d}", small) for i in range(scenario.runs)]
            + [_connection(customer, f"{MANUAL}{i:04d}", small) for i in range(scenario.manual)]
            + [_connection(customer, f"{LONG}{i}", long) for i in range(2)])
    Connection.objects.bulk_create(rows, batch_size=500)
    not_due = timezone.now() + timedelta(days=1)
    SyncState.objects.bulk_create([SyncState(connection=c, entity=e, next_due_at=not_due)
                                   for c in rows for e in c.entities], batch_size=500)
    return Seeded(customer=customer, manual=[c for c in rows if c.name.startswith(MANUAL)],
                  long=[c for c in rows if c.name.startswith(LONG)])


def _config(*, records: dict, page_size: int, entities: list[str], faults: dict | None = None) -> tuple[dict, list]:
    config = {"seed": 7, "records": records, "page_size": page_size, **({"faults": faults} if faults else {})}
    return connection_settings_check(connector="sandbox", config=config, credentials={"api_key": "bench"},
                                     entities=entities, sync_interval_minutes=60, history_days=90, verify=False)


def _connection(customer: Customer, name: str, checked: tuple[dict, list]) -> Connection:
    config, entities = checked
    return Connection(customer=customer, connector="sandbox", name=name, status=Connection.Status.ACTIVE,
                      status_reason="benchmark data", status_changed_at=timezone.now(), config=config,
                      credentials={"api_key": "bench"}, entities=entities, sync_interval_minutes=60,
                      history_days=90)


def cleanup() -> None:
    """Deletes everything the bench made, including the events and audit rows that outlive a
    connection (unlinked) in the product."""
    connections = Connection.objects.filter(customer__external_id=CUSTOMER_EXTERNAL_ID)
    Event.objects.filter(connection__in=connections).delete()
    AuditEvent.objects.filter(connection__in=connections).delete()
    Record.objects.filter(connection__in=connections).delete()
    connections.delete()
    Customer.objects.filter(external_id=CUSTOMER_EXTERNAL_ID).delete()
    WorkerHeartbeat.objects.filter(hostname__startswith=HOSTNAME_PREFIX).delete()


def _runs(seeded: Seeded, prefix: str):
    return SyncRun.objects.filter(connection__customer=seeded.customer, connection__name__startswith=prefix)


# --- sampling ------------------------------------------------------------------------------------

class Sampler(threading.Thread):
    """Every ~0.2 s: how many runs are running, and the most of one connection. In a thread of
    its own (and its own database connection), so a long scheduler tick does not pause it."""

    def __init__(self, *, interval: float, long: set[uuid.UUID]):
        super().__init__(name="bench-scheduling-sampler", daemon=True)
        self.interval, self.long = interval, long
        self.samples = self.max_per_connection = self.max_running = self.running_sum = self.long_sum = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.wait(self.interval):
                self.sample()
        except BaseException as exc:  # handed to the main thread by finish()
            self.error = exc
        finally:
            db.close()

    def sample(self) -> None:
        running = Counter(SyncRun.objects.filter(status=SyncRun.Status.RUNNING).values_list("connection_id",
                                                                                            flat=True))
        self.samples += 1
        self.running_sum += sum(running.values())
        self.long_sum += sum(n for connection_id, n in running.items() if connection_id in self.long)
        self.max_running = max(self.max_running, sum(running.values()))
        self.max_per_connection = max(self.max_per_connection, max(running.values(), default=0))

    def finish(self) -> None:
        self._halt.set()
        self.join()
        if self.error:
            raise self.error


# --- one pass ------------------------------------------------------------------------------------

@dataclass
class Press:
    run_id: uuid.UUID
    pressed_at: datetime


@dataclass
class Progress:
    due_left: int
    active: int
    finished: int


class SchedulingPass:
    def __init__(self, *, scenario: Scenario, seeded: Seeded, label: str, spread_seconds: float | None = None,
                 log=print):
        self.scenario, self.seeded, self.label, self.log = scenario, seeded, label, log
        # Manual presses: the k-th of M when k/(M+1) of the backlog is done or of this many seconds
        # has passed, whichever comes first; None: no presses.
        self.spread_seconds = spread_seconds
        self.presses: list[Press] = []
        self.timed_out = False
        self.queued_seconds: float | None = None

    def run(self) -> PassResult:
        """Seconds and presses count from the moment the backlog falls due."""
        worker = BenchWorker(concurrency=self.scenario.concurrency, name=self.label.replace(" ", "-"))
        worker.start()
        try:
            long_runs = self.long_start(worker)
            started = time.monotonic()
            due = self.backlog_due()
            sampler = Sampler(interval=self.scenario.sample_seconds, long={c.pk for c in self.seeded.long})
            sampler.start()
            try:
                self.drive(started_at=started, worker=worker)
            finally:
                sampler.finish()
            long_outlasted = SyncRun.objects.filter(pk__in=long_runs, status__in=SyncRun.ACTIVE_STATUSES).exists()
            seconds = time.monotonic() - started
            self.long_stop(long_runs)
        finally:
            worker.stop()
        if not self.timed_out:
            worker.log_discard()
        return self.result(due=due, sampler=sampler, seconds=seconds, long_outlasted=long_outlasted)

    def long_start(self, worker: BenchWorker) -> list[uuid.UUID]:
        """The long full syncs, queued as the scheduler queues a new connection's first sync
        (scheduled priority), and running before the backlog falls due."""
        runs = [r.run.pk for c in self.seeded.long for r in sync_trigger(
            connection=c, mode=Mode.FULL, trigger=Trigger.SCHEDULE, requested_by=SYSTEM.name)]
        wanted = min(self.scenario.concurrency, len(runs))
        deadline = time.monotonic() + 60
        while SyncRun.objects.filter(pk__in=runs, status=SyncRun.Status.RUNNING).count() < wanted:
            if time.monotonic() > deadline or not worker.alive():
                raise RuntimeError(f"the long syncs did not start; worker log:\n{worker.output()[-3000:]}")
            time.sleep(0.1)
        return runs

    def backlog_due(self) -> dict[uuid.UUID, datetime]:
        """Every backlog connection's state due now; returns each one's due time."""
        states = SyncState.objects.filter(connection__customer=self.seeded.customer,
                                          connection__name__startswith=BACKLOG)
        states.update(next_due_at=timezone.now())
        return dict(states.values_list("connection_id", "next_due_at"))

    def drive(self, *, started_at: float, worker: BenchWorker) -> None:
        """The scheduler's ticks and the presses, until the backlog and the manual runs are done."""
        deadline, next_tick = started_at + self.scenario.timeout, 0.0
        while True:
            if time.monotonic() >= next_tick:
                syncs_schedule_due()
                next_tick = time.monotonic() + self.scenario.tick_seconds
            progress = self.progress()
            if self.queued_seconds is None and not progress.due_left:
                self.queued_seconds = time.monotonic() - started_at
            if self.press_due(progress, elapsed=time.monotonic() - started_at):
                self.press()
                continue
            if self.done(progress):
                return
            if time.monotonic() > deadline or not worker.alive():
                self.timed_out = True
                why = "the worker exited" if not worker.alive() else f"--timeout {self.scenario.timeout:g} s"
                self.log(f"{self.label}: stopped ({why}) with {progress.finished} of {self.scenario.runs} backlog "
                         f"runs finished; worker log: {worker.log_path}")
                return
            time.sleep(self.scenario.sample_seconds)

    def progress(self) -> Progress:
        by_status = dict(_runs(self.seeded, BACKLOG).values_list("status").annotate(n=Count("id")).order_by())
        due_left = SyncState.objects.filter(connection__customer=self.seeded.customer,
                                            connection__name__startswith=BACKLOG,
                                            next_due_at__lte=timezone.now()).count()
        return Progress(due_left=due_left, active=sum(by_status.get(s, 0) for s in SyncRun.ACTIVE_STATUSES),
                        finished=sum(by_status.get(s, 0) for s in FINISHED))

    def press_due(self, progress: Progress, *, elapsed: float) -> bool:
        if self.spread_seconds is None or len(self.presses) >= len(self.seeded.manual):
            return False
        share = (len(self.presses) + 1) / (len(self.seeded.manual) + 1)
        return elapsed >= self.spread_seconds * share or progress.finished >= self.scenario.runs * share

    def press(self) -> None:
        """Sync now, as the dashboard's button calls it."""
        connection = self.seeded.manual[len(self.presses)]
        pressed_at = timezone.now()
        triggered = sync_trigger(connection=connection, trigger=Trigger.DASHBOARD, requested_by=OPS.name, actor=OPS)
        self.presses.append(Press(run_id=triggered[0].run.pk, pressed_at=pressed_at))

    def done(self, progress: Progress) -> bool:
        if progress.due_left or progress.active:
            return False
        if self.spread_seconds is not None and len(self.presses) < len(self.seeded.manual):
            return False
        return not SyncRun.objects.filter(pk__in=[p.run_id for p in self.presses],
                                          status__in=SyncRun.ACTIVE_STATUSES).exists()

    def long_stop(self, runs: list[uuid.UUID]) -> None:
        """Cancels the long syncs (they stop between pages) so the worker can shut down warm."""
        for run in SyncRun.objects.filter(pk__in=runs, status__in=SyncRun.ACTIVE_STATUSES):
            sync_run_cancel(run=run, actor=SYSTEM)
        deadline = time.monotonic() + 30 + 4 * self.scenario.slow_page_seconds
        while SyncRun.objects.filter(pk__in=runs, status__in=SyncRun.ACTIVE_STATUSES).exists():
            if time.monotonic() > deadline:
                return  # the worker's stop kills what is left
            time.sleep(0.2)

    def result(self, *, due: dict, sampler: Sampler, seconds: float, long_outlasted: bool) -> PassResult:
        backlog = list(_runs(self.seeded, BACKLOG).values("connection_id", "status", "started_at", "finished_at"))
        ok = [r for r in backlog if r["status"] == SyncRun.Status.SUCCEEDED]
        first_due = min(due.values()) if due else None
        last_finished = max((r["finished_at"] for r in ok), default=None)
        first_started = min((r["started_at"] for r in ok), default=None)
        manual = {r["id"]: r for r in SyncRun.objects.filter(pk__in=[p.run_id for p in self.presses]).values(
            "id", "started_at", "priority")}
        return PassResult(
            label=self.label, seconds=seconds, queued_seconds=self.queued_seconds, timed_out=self.timed_out,
            backlog=self.scenario.runs,
            succeeded=len(ok), failed=sum(r["status"] == SyncRun.Status.FAILED for r in backlog),
            unfinished=self.scenario.runs - sum(r["status"] in FINISHED for r in backlog),
            throughput=_rate(len(ok), first_due, last_finished),
            drain_throughput=_rate(len(ok), first_started, last_finished),
            lateness=sorted((r["started_at"] - due[r["connection_id"]]).total_seconds()
                            for r in backlog if r["started_at"]),
            manual_pressed=len(self.presses),
            manual_starts=sorted((manual[p.run_id]["started_at"] - p.pressed_at).total_seconds()
                                 for p in self.presses if manual[p.run_id]["started_at"]),
            manual_priorities=sorted({r["priority"] for r in manual.values()}),
            max_per_connection=sampler.max_per_connection, max_running=sampler.max_running,
            busy_slots=_share(sampler.running_sum, sampler.samples * self.scenario.concurrency),
            long_slots=_share(sampler.long_sum, sampler.samples * self.scenario.concurrency),
            samples=sampler.samples, yields=self.yields(), long_outlasted_backlog=long_outlasted)

    def yields(self) -> dict[str, int]:
        """Times runs gave their worker back between pages, by kind of run."""
        return {kind: _runs(self.seeded, prefix).aggregate(n=Sum("yields"))["n"] or 0
                for kind, prefix in (("long", LONG), ("backlog", BACKLOG), ("manual", MANUAL))}


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _rate(count: int, start: datetime | None, end: datetime | None) -> float | None:
    if not count or start is None or end is None or end <= start:
        return None
    return count / (end - start).total_seconds()


# --- the bench -----------------------------------------------------------------------------------

@dataclass
class BenchResult:
    scenario: Scenario
    database: str
    cap: int
    without_manual: PassResult
    with_manual: PassResult

    @property
    def throughput_ratio(self) -> float | None:
        a, b = self.with_manual.throughput, self.without_manual.throughput
        return a / b if a and b else None


def bench_scheduling(*, scenario: Scenario, log=print) -> BenchResult:
    """Two passes on fresh data each: the backlog alone, then the backlog with manual presses
    spread over about the time the first pass took."""
    cleanup()  # what an interrupted earlier run left
    results = []
    for label, with_manual in (("without manual runs", False), ("with manual runs", True)):
        spread = results[0].seconds if with_manual else None
        log(f"{label}: seeding {scenario.runs + scenario.manual + 2} connections...")
        seeded = seed(scenario=scenario)
        try:
            results.append(SchedulingPass(scenario=scenario, seeded=seeded, label=label, spread_seconds=spread,
                                          log=log).run())
        finally:
            cleanup()
        log(f"{label}: done in {results[-1].seconds:.1f} s")
    return BenchResult(scenario=scenario, database=db.vendor, cap=settings.SYNC_MAX_RUNS_PER_CONNECTION,
                       without_manual=results[0], with_manual=results[1])
