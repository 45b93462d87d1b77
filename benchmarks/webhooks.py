"""The webhook delivery benchmark behind `manage.py bench_webhooks`.

It starts an HTTPS receiver in a child process (127.0.0.1 only, a throwaway CA), creates a
temporary endpoint for it, emits N `webhook.test` events through `event_emit` (to that endpoint
only) and hands every message that `event_emit` enqueues (one per event) to worker processes,
which run what the webhooks task runs, `services.deliveries_attempt`: the batch claim, signing,
the address checks, the pinned TLS transport with its kept-alive connections, concurrent sends
and the database bookkeeping, all the code a Celery worker runs, minus the broker. Then it posts
the same bodies to the same receiver with a bare httpx client, in a plain loop (the baseline of
the target) and then with as many threads as the delivery side may send at once in all, for
comparison. Everything it created is deleted at the end.
"""

import logging
import multiprocessing
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from django.db import connections
from django.test import override_settings

from benchmarks.webhook_processes import ReceiverProcess, worker_init, worker_messages, worker_ready
from core.audit import Actor
from core.models import AuditEvent
from core.retention import Budget
from webhooks import dispatch, retention, services, transport
from webhooks.models import Delivery, Event

MAX_EVENTS = 100_000
ACTOR = Actor(name="bench_webhooks", source=AuditEvent.Source.CLI)


@dataclass
class Report:
    lines: list[str]
    throughput: float
    baseline_loop: float
    baseline_threads: float
    p50_ms: float
    p99_ms: float


def _tls_files(folder: Path) -> tuple[str, str, str]:
    """A throwaway CA and a certificate for "localhost", written to folder: (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PlantSync bench CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
          .not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return tuple(str(p) for p in paths)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _warm_pool(pool: ProcessPoolExecutor, processes: int) -> None:
    """Starts every worker process (Django set up, ready) before the clock starts."""
    pids: set[int] = set()
    give_up = time.monotonic() + 120
    # Each call holds its process a moment so that the next one goes to another; on a busy
    # machine a process can start late and a first round miss it, hence the rounds.
    while len(pids) < processes and time.monotonic() < give_up:
        pids |= {future.result(timeout=120) for future in [pool.submit(worker_ready, 0.5) for _ in range(processes)]}
    if len(pids) < processes:
        raise RuntimeError(f"only {len(pids)} of {processes} delivery processes started")


@dataclass
class _Run:
    endpoint: object
    created: dict  # event id -> creation time (epoch seconds)
    released: float  # when deliveries were handed to the workers (first emit, in --rate mode)
    emit_rate: float
    failed: int = 0
    loop_before: float | None = None  # the bare loop's rate just before the release (batch mode)


def _emit(*, endpoint, events: int, rate: float | None, runner) -> tuple[dict, float]:
    created: dict[str, float] = {}
    began = time.time()
    with dispatch.deliveries_run_locally(runner):
        for n in range(events):
            if rate:
                pause = began + n / rate - time.time()
                if pause > 0:
                    time.sleep(pause)
            event = services.event_emit(type="webhook.test", endpoints=[endpoint],
                                        data={"n": n, "message": "bench_webhooks", "padding": "x" * 200})
            created[str(event.id)] = event.created_at.timestamp()
    return created, events / max(time.time() - began, 1e-9)


def _run_deliveries(*, url: str, events: int, rate: float | None, processes: int, threads: int, overrides: dict,
                    deadline: float, loop_before=None) -> _Run:
    """With a rate, emits at that rate while the workers deliver (latency from creation). Without,
    emits the batch first and then releases it to the workers (their throughput, undiluted by the
    emitting, which is the callers' work and happens in their transactions)."""
    endpoint, _ = services.endpoint_create(url=url, actor=ACTOR, description="bench_webhooks (temporary)")
    connections.close_all()  # nothing open while the pool starts
    context = multiprocessing.get_context("spawn")
    database_name = connections["default"].settings_dict["NAME"]
    with ProcessPoolExecutor(processes, mp_context=context, initializer=worker_init,
                             initargs=(overrides, database_name)) as pool:
        _warm_pool(pool, processes)
        futures, before = [], None
        if rate:
            # Each delivery goes to a worker as its commit happens, as a Celery message would.
            # (The receiver never fails, so there are no countdowns.)
            released = time.time()
            created, emit_rate = _emit(endpoint=endpoint, events=events, rate=rate, runner=lambda delivery_id, _:
                                       futures.append(pool.submit(worker_messages, [[delivery_id]], threads)))
        else:
            pending: list[int] = []
            created, emit_rate = _emit(endpoint=endpoint, events=events, rate=None,
                                       runner=lambda delivery_id, _: pending.append(delivery_id))
            # Every message is run (one per event, as event_emit enqueues them), a few per hand-over
            # to keep the process pool's own overhead per message small.
            size = max(1, len(pending) // (processes * 50))
            # The machine is shared: measure the bare loop right before as well as right after.
            before = loop_before(created) if loop_before else None
            released = time.time()
            futures = [pool.submit(worker_messages, [[i] for i in pending[start:start + size]], threads)
                       for start in range(0, len(pending), size)]
        for future in futures:
            future.result(timeout=max(deadline - time.monotonic(), 1))
    failed = Delivery.objects.filter(endpoint=endpoint).exclude(status=Delivery.Status.SUCCEEDED).count()
    return _Run(endpoint=endpoint, created=created, released=released, emit_rate=emit_rate, failed=failed,
                loop_before=before)


def _bodies(event_ids) -> list[tuple[str, bytes]]:
    return [(str(e.id), services.event_body(e)) for e in Event.objects.filter(pk__in=list(event_ids))]


def _bare_loop(*, url: str, bodies: list[tuple[str, bytes]], ca: str) -> float:
    """The issue's baseline: one httpx client posting the bodies one after another (keep-alive)."""
    import ssl

    headers = {"Content-Type": "application/json", "User-Agent": "bare-httpx"}
    with httpx.Client(verify=ssl.create_default_context(cafile=ca), timeout=10) as client:
        began = time.monotonic()
        for event_id, body in bodies:
            client.post(url, content=body, headers={**headers, "webhook-id": event_id}).raise_for_status()
        return len(bodies) / (time.monotonic() - began)


def _run_baselines(*, url: str, bodies: list[tuple[str, bytes]], threads: int, ca: str) -> tuple[float, float]:
    import ssl

    context = ssl.create_default_context(cafile=ca)
    headers = {"Content-Type": "application/json", "User-Agent": "bare-httpx"}
    loop = _bare_loop(url=url, bodies=bodies, ca=ca)
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    with httpx.Client(verify=context, timeout=10, limits=limits) as client, ThreadPoolExecutor(threads) as pool:
        began = time.monotonic()
        list(pool.map(lambda item: client.post(url, content=item[1], headers={**headers, "webhook-id": item[0]})
                      .raise_for_status(), bodies))
        threaded = len(bodies) / (time.monotonic() - began)
    return loop, threaded


def _tables_vacuum() -> None:
    """Earlier runs' deleted rows, while no autovacuum has cleared them (it may be off, as on the
    machines these figures come from), leave dead index entries that every claim steps over."""
    if connections["default"].vendor == "postgresql":
        with connections["default"].cursor() as cursor:
            cursor.execute("VACUUM ANALYZE webhooks_delivery, webhooks_attempt, webhooks_event")


def bench_run(*, events: int, rate: float | None = None, processes: int = 2, threads: int = 1) -> Report:
    if not 1 <= events <= MAX_EVENTS:
        raise ValueError(f"--events must be between 1 and {MAX_EVENTS}")
    if rate is not None and not 0 < rate <= 10_000:
        raise ValueError("--rate must be between 0 and 10000 events/s")
    if not 1 <= processes <= 32:
        raise ValueError("--processes must be between 1 and 32")
    if not 1 <= threads <= 16:
        raise ValueError("--threads must be between 1 and 16")
    deadline = time.monotonic() + 600 + (events / rate if rate else 0)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    _tables_vacuum()
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as folder:
        ca, cert, key = _tls_files(Path(folder))
        receiver = ReceiverProcess(cert, key)
        url = f"https://localhost:{receiver.port}/bench"
        # Loopback is allowed and the throwaway CA trusted for this run only (and in its workers).
        overrides = {"WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.1/32"], "WEBHOOK_CA_BUNDLE": ca}
        run = None

        def loop_before(created: dict) -> float:
            rate_before = _bare_loop(url=url, bodies=_bodies(created), ca=ca)
            receiver.take()  # what the receiver counts next is ours alone
            return rate_before

        try:
            with override_settings(**overrides):
                run = _run_deliveries(url=url, events=events, rate=rate, processes=processes, threads=threads,
                                      overrides=overrides, deadline=deadline, loop_before=loop_before)
            received = [(event_id, at) for event_id, at in receiver.take() if event_id in run.created]
            last = max((at for _, at in received), default=time.time())
            throughput = len(received) / max(last - run.released, 1e-9)
            # With a rate: from each event's creation. In a batch: from the batch's release.
            latencies = sorted((at - (run.created[event_id] if rate else run.released)) * 1000
                               for event_id, at in received)
            bodies = _bodies(run.created)
            # As many at once as the delivery side may send (its threads, each sending a batch at once).
            baseline_threads = min(processes * threads * transport.POST_THREADS, 64)
            loop, threaded = _run_baselines(url=url, bodies=bodies, threads=baseline_threads, ca=ca)
            receiver.take()
        finally:
            if run is not None:
                events_made = list(Delivery.objects.filter(endpoint=run.endpoint).values_list("event_id", flat=True))
                services.endpoint_delete(endpoint=run.endpoint, actor=ACTOR)
                # Its history goes now, not in the background task: the bench leaves nothing behind.
                retention.endpoint_purge(endpoint_id=run.endpoint.pk, batch_size=10_000, budget=Budget(600))
                Event.objects.filter(pk__in=events_made).delete()
            receiver.stop()
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    path = (f"path: {processes} delivery worker processes x {threads} thread(s) (as `celery worker --concurrency "
            f"{processes}`, minus the broker), each message running services.deliveries_attempt (the webhooks "
            f"task): batches of up to {dispatch.BATCH_SIZE} claimed in one statement, sent with signing and address "
            f"checks per request (different hosts at once; one host's requests one after another on a kept-alive "
            f"connection while it answers quickly, more connections when slow, up to {transport.POST_THREADS} at "
            f"once), recorded in one transaction")
    if rate:
        lines = [path, f"events emitted with event_emit at a steady {rate:g}/s ({run.emit_rate:.1f}/s achieved), "
                       f"each handed to a worker on commit",
                 f"delivered: {len(received)}/{events} (not succeeded: {run.failed})",
                 f"throughput: {throughput:.1f} deliveries/s (capped by the rate)",
                 f"latency event creation -> receipt: p50 {p50:.1f} ms, p99 {p99:.1f} ms"]
    else:
        lines = [path, f"{events} events emitted with event_emit first ({run.emit_rate:.0f}/s), then released "
                       f"to the workers at once",
                 f"delivered: {len(received)}/{events} (not succeeded: {run.failed})",
                 f"throughput: {throughput:.1f} deliveries/s (release to last receipt)",
                 "latency release -> receipt (queueing included): "
                 f"first {latencies[0] if latencies else float('nan'):.1f} "
                 f"ms, p50 {p50:.1f} ms, p99 {p99:.1f} ms"]
    if run.loop_before is not None:
        loop_after, loop = loop, (run.loop_before + loop) / 2
        measured = f"{loop:.1f} posts/s (mean of {run.loop_before:.1f} just before and {loop_after:.1f} just after)"
    else:
        measured = f"{loop:.1f} posts/s"
    ratio = (f"ratio {throughput / loop:.2f} (the target's baseline; ours above is concurrent)" if not rate else
             "no ratio: with --rate our throughput is the rate (run without --rate to compare)")
    lines += [f"bare httpx loop (1 client, sequential, same bodies, same receiver): {measured} -> {ratio}",
              f"bare httpx, {baseline_threads} threads sharing 1 client: {threaded:.1f} posts/s -> ratio "
              f"{throughput / threaded:.2f}"]
    return Report(lines=lines, throughput=throughput, baseline_loop=loop, baseline_threads=threaded, p50_ms=p50,
                  p99_ms=p99)
