"""A real Celery worker in a subprocess, pointed at the test database and the test broker."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def subprocess_database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    def __init__(self, *, queues: str = "syncs,webhooks,celery", concurrency: int = 2, env: dict | None = None,
                 name: str = "test"):
        self.queues, self.concurrency, self.name = queues, concurrency, name
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(settings.VAR_DIR) / f"worker-{name}-{os.getpid()}.log"

    def start(self) -> "WorkerProcess":
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
               "DATABASE_URL": subprocess_database_url(),
               "VAR_DIR": str(settings.VAR_DIR), **self.extra_env}
        cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", "--queues", self.queues,
               "--concurrency", str(self.concurrency), "--pool", "prefork", "--loglevel", "INFO",
               "--hostname", f"{self.name}-{os.getpid()}-{time.monotonic_ns()}@%h", "--without-gossip",
               "--without-mingle"]
        self.log = open(self.log_path, "w")
        # Its own process group, so a kill reaches the pool children too.
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if "ready." in self.log_path.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self):
        """SIGKILL the whole worker, as a crashed machine would: no cleanup, no acks."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()

    def output(self) -> str:
        return self.log_path.read_text()


def broker_purge():
    """Drops messages left by earlier tests; they name rows that no longer exist."""
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in ("syncs", "webhooks", "celery"):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # a queue never declared has nothing to purge
                pass
