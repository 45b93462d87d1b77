"""Test settings: the same two modes as base, chosen by DATABASE_URL and REDIS_URL."""

import os
import tempfile

# A fresh folder per test session (inherited by worker subprocesses through the environment),
# so two test runs on one machine never share a SQLite file or a broker folder.
if "VAR_DIR" not in os.environ:
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="plantsync-test-")

from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so a worker subprocess sees the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DATABASES["default"]["CONN_MAX_AGE"] = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SYNC_RETRY_BASE_SECONDS = 0.01
# No automatic retries unless a test asks for them: a run failed on purpose in one test would
# otherwise go on retrying on a shared worker into the next. When asked for, they are due at once.
SYNC_AUTO_RETRIES = 0
SYNC_AUTO_RETRY_BASE_SECONDS = 0
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
