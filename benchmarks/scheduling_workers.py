"""`bench_scheduling`'s Celery worker: the Procfile's `worker` line, run as a subprocess against
this process's own database and broker (under pytest, the test database and broker folder)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
QUEUES = "syncs,webhooks,celery"
HOSTNAME_PREFIX = "bench-scheduling"


def database_url() -> str:
    """The database this process uses, as a URL the worker's settings read back (DATABASE_URL)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class BenchWorker:
    """`celery -A config worker --queues syncs,webhooks,celery --concurrency N`, no beat: the bench
    calls the scheduler service itself."""

    def __init__(self, *, concurrency: int, name: str):
        self.concurrency = concurrency
        self.hostname = f"{HOSTNAME_PREFIX}-{name}-{os.getpid()}-{time.monotonic_ns()}@%h"
        self.log_path = Path(settings.VAR_DIR) / f"{HOSTNAME_PREFIX}-{name}-{os.getpid()}.log"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, *, timeout: float = 60) -> "BenchWorker":
        env = {**os.environ, "DATABASE_URL": database_url(), "VAR_DIR": str(settings.VAR_DIR),
               "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE,
               "WORKER_CONCURRENCY": str(self.concurrency)}
        cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", "--queues", QUEUES,
               "--concurrency", str(self.concurrency), "--pool", "prefork", "--loglevel", "INFO",
               "--hostname", self.hostname, "--without-gossip", "--without-mingle"]
        self._log = open(self.log_path, "w")
        # Its own process group, so stopping it reaches the pool's children too.
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the bench's worker exited early:\n{self.output()[-3000:]}")
            if "ready." in self.output():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the bench's worker was not ready in {timeout:.0f} s:\n{self.output()[-3000:]}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, *, timeout: float = 30) -> None:
        """A warm shutdown (running tasks finish), then SIGKILL if it takes longer than `timeout`."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None

    def log_discard(self) -> None:
        """After a pass that went well; a failed one keeps its log for the error it raised."""
        self.log_path.unlink(missing_ok=True)

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
