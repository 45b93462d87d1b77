"""Child processes of `bench_webhooks`: the HTTPS receiver and the delivery workers.

Spawned, not forked (no inherited database connections or threads), so this module imports
nothing of Django at import time.
"""

import multiprocessing
import os
import threading
import time


def _receiver_main(cert: str, key: str, pipe) -> None:
    """Answers 200 to every POST on 127.0.0.1 and records (webhook-id, time received)."""
    import http.server
    import ssl

    received: list[tuple[str, float]] = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            at = time.time()
            with lock:
                received.append((self.headers.get("webhook-id", ""), at))
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pipe.send(server.server_address[1])
    while (command := pipe.recv()) != "stop":
        if command == "take":
            with lock:
                pipe.send(list(received))
                received.clear()
    server.shutdown()


class ReceiverProcess:
    def __init__(self, cert: str, key: str):
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self.process = context.Process(target=_receiver_main, args=(cert, key, child), daemon=True)
        self.process.start()
        if not self._pipe.poll(30):
            raise RuntimeError("the benchmark receiver did not start")
        self.port = self._pipe.recv()

    def take(self) -> list[tuple[str, float]]:
        """The requests received since the last call."""
        self._pipe.send("take")
        return self._pipe.recv()

    def stop(self) -> None:
        try:
            self._pipe.send("stop")
        except (BrokenPipeError, OSError):
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


def worker_init(overrides: dict, database_name: str) -> None:
    """Runs once in each delivery worker process, as a Celery worker's startup would."""
    import logging

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    django.setup()
    from django.conf import settings
    from django.db import connections

    # The parent's database exactly (under pytest that is the test database).
    settings.DATABASES["default"]["NAME"] = database_name
    connections["default"].settings_dict["NAME"] = database_name
    for name, value in overrides.items():
        setattr(settings, name, value)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # What a Celery worker has done before its first task: imported the task modules (and with
    # them the transport, httpx and the crypto), opened its database connection and, once, built
    # the TLS context. Left to the first message, they cost ~90 ms of a 1 s run.
    import webhooks.tasks  # noqa: F401
    from webhooks import transport

    connections["default"].ensure_connection()
    transport.ssl_context()


def worker_ready(pause: float) -> int:
    time.sleep(pause)  # holds this process so the next warm-up call starts another one
    return os.getpid()


_pool = None


def worker_messages(messages: list[list[int]], threads: int = 1) -> int:
    """What the webhooks task does (`services.deliveries_attempt`), once per message (a list of
    delivery ids, as one Celery message carries); with threads > 1 the messages run concurrently,
    as in a threaded worker pool (each thread keeps its own database connection)."""
    global _pool
    from concurrent.futures import ThreadPoolExecutor

    from webhooks.services import deliveries_attempt

    def run(delivery_ids: list[int]) -> int:
        return deliveries_attempt(delivery_ids=delivery_ids)

    if threads <= 1:
        return sum(map(run, messages))
    if _pool is None:
        _pool = ThreadPoolExecutor(threads, thread_name_prefix="bench-delivery")
    return sum(_pool.map(run, messages))
