"""bench_scheduling's figures as text for people and as JSON, with the targets next to them."""

from dataclasses import asdict

from benchmarks.scheduling import LONG_PAGE_SIZE, BenchResult, PassResult, percentile
from benchmarks.scheduling_workers import QUEUES
from syncs.models import Priority

# Targets on a 2-core machine, PostgreSQL and Redis (docs/performance.md, "bench_scheduling").
TARGET_MANUAL_P95_SECONDS = 10.0
TARGET_THROUGHPUT_RATIO = 0.90


def pass_figures(p: PassResult) -> dict:
    return {
        "seconds": p.seconds, "queued_seconds": p.queued_seconds, "timed_out": p.timed_out, "backlog": p.backlog,
        "succeeded": p.succeeded, "failed": p.failed, "unfinished": p.unfinished, "throughput": p.throughput,
        "drain_throughput": p.drain_throughput,
        "lateness": {"p50": percentile(p.lateness, 50), "p95": percentile(p.lateness, 95),
                     "max": max(p.lateness, default=None), "started": len(p.lateness)},
        "manual": {"pressed": p.manual_pressed, "measured": len(p.manual_starts),
                   "p50": percentile(p.manual_starts, 50), "p95": percentile(p.manual_starts, 95),
                   "max": max(p.manual_starts, default=None), "priorities": p.manual_priorities},
        "max_per_connection": p.max_per_connection, "max_running": p.max_running, "busy_slots": p.busy_slots,
        "long_slots": p.long_slots,
        "samples": p.samples, "yields": p.yields, "long_outlasted_backlog": p.long_outlasted_backlog,
    }


def summary(r: BenchResult) -> dict:
    manual_p95 = percentile(r.with_manual.manual_starts, 95)
    most = max(r.without_manual.max_per_connection, r.with_manual.max_per_connection)
    return {
        "database": r.database, "scenario": asdict(r.scenario), "cap": r.cap,
        "passes": {"without_manual": pass_figures(r.without_manual), "with_manual": pass_figures(r.with_manual)},
        "throughput_ratio": r.throughput_ratio, "max_per_connection": most, "cap_held": most <= r.cap,
        "targets": {
            "manual_start_p95_under_seconds": TARGET_MANUAL_P95_SECONDS,
            "manual_start_met": manual_p95 is not None and manual_p95 < TARGET_MANUAL_P95_SECONDS,
            "throughput_ratio_at_least": TARGET_THROUGHPUT_RATIO,
            "throughput_ratio_met": (r.throughput_ratio or 0) >= TARGET_THROUGHPUT_RATIO,
        },
        "notes": notes(r),
    }


def _s(value: float | None, unit: str = " s") -> str:
    return "n/a" if value is None else f"{value:.1f}{unit}"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} runs/s"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def lines(r: BenchResult) -> list[str]:
    s, data = r.scenario, summary(r)
    out = [
        f"database            {r.database}",
        f"worker              1 celery worker --concurrency {s.concurrency} (queues {QUEUES}), no beat; "
        f"SYNC_MAX_RUNS_PER_CONNECTION {r.cap}",
        f"backlog             {s.runs} scheduled incremental runs (sandbox, {s.records} records, 1 entity each), "
        f"all due at once; syncs_schedule_due called every {s.tick_seconds:g} s (beat: every 30 s)",
        f"long syncs          2 full syncs of {s.long_entities} entit{'y' if s.long_entities == 1 else 'ies'} each, "
        f"{s.long_pages} pages of {LONG_PAGE_SIZE} records, {s.slow_page_seconds:g} s a page, started first",
        f"manual              {s.manual} x Sync now (dashboard), second pass, spread over its backlog",
        "",
        f"{'':34}{'without manual':>20}{'with manual':>20}",
    ]
    a, b = data["passes"]["without_manual"], data["passes"]["with_manual"]
    rows = [
        ("pass (backlog due -> all done)", lambda p: _s(p["seconds"])),
        ("backlog queued (due -> last queued)", lambda p: _s(p["queued_seconds"])),
        ("backlog succeeded", lambda p: f"{p['succeeded']}/{p['backlog']}"),
        ("backlog failed / unfinished", lambda p: f"{p['failed']} / {p['unfinished']}"),
        ("throughput (due -> last done)", lambda p: _rate(p["throughput"])),
        ("throughput (first start -> last)", lambda p: _rate(p["drain_throughput"])),
        ("lateness p50", lambda p: _s(p["lateness"]["p50"])),
        ("lateness p95", lambda p: _s(p["lateness"]["p95"])),
        ("lateness max", lambda p: _s(p["lateness"]["max"])),
        ("most runs of one connection", lambda p: f"{p['max_per_connection']} (cap {r.cap})"),
        ("runs running at once, max", lambda p: f"{p['max_running']} of {s.concurrency}"),
        ("slots busy, mean", lambda p: f"{p['busy_slots']:.0%} ({p['samples']} samples)"),
        ("slots held by the long syncs, mean", lambda p: f"{p['long_slots']:.0%}"),
        ("yields long / backlog / manual",
         lambda p: "{long} / {backlog} / {manual}".format(**p["yields"])),
    ]
    out += [f"{label:34}{get(a):>20}{get(b):>20}" for label, get in rows]
    m = b["manual"]
    out += [
        "",
        f"manual start        trigger -> running: p50 {_s(m['p50'])}, p95 {_s(m['p95'])}, max {_s(m['max'])} "
        f"({m['measured']} of {m['pressed']} pressed measured; priority {', '.join(map(str, m['priorities']))})",
        "throughput ratio    with / without manual runs: "
        + ("n/a" if r.throughput_ratio is None else f"{r.throughput_ratio:.0%}"),
        "",
        "targets (2-core machine, PostgreSQL and Redis)",
        f"  manual start p95 under {TARGET_MANUAL_P95_SECONDS:g} s: {_s(m['p95'])}  "
        f"{_met(data['targets']['manual_start_met'])}",
        f"  backlog throughput with manual runs at least {TARGET_THROUGHPUT_RATIO:.0%} of without: "
        + ("n/a" if r.throughput_ratio is None else f"{r.throughput_ratio:.0%}")
        + f"  {_met(data['targets']['throughput_ratio_met'])}",
        f"  no connection over its slot cap ({r.cap}): at most {data['max_per_connection']} at once  "
        + ("cap held" if data["cap_held"] else "cap exceeded"),
    ]
    return out + [f"note: {n}" for n in data["notes"]]


def notes(r: BenchResult) -> list[str]:
    s, found = r.scenario, []
    for p in (r.without_manual, r.with_manual):
        if p.timed_out:
            found.append(f"the pass {p.label} stopped before its runs were done; its figures are partial")
        if not p.long_outlasted_backlog:
            found.append(f"in the pass {p.label} the long syncs had finished before the backlog did, so for part "
                         "of it the backlog had the slots to itself (expected where runs do not yield: the long "
                         "syncs held their slots until they finished; else raise --long-pages)")
    if min(s.concurrency, s.long_entities) <= r.cap:
        found.append(f"with --concurrency {s.concurrency} and --long-entities {s.long_entities} no connection can "
                     f"run more than {min(s.concurrency, s.long_entities)} at once, so the cap ({r.cap}) cannot be "
                     f"exceeded here; --concurrency {r.cap + 1} --long-entities {r.cap + 1} puts it to the test")
    if r.with_manual.manual_priorities and max(r.with_manual.manual_priorities) < Priority.MANUAL:
        found.append(f"the manual runs were queued at priority "
                     f"{', '.join(map(str, r.with_manual.manual_priorities))}, not "
                     f"{int(Priority.MANUAL)} (manual)")
    return found
