import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection, connections

from core.sqlite3.base import DatabaseWrapper
from tests.conftest import skip_or_fail
from tests.helpers import manage, postgres_reachable

PRINT_MODE = ("from django.conf import settings as s; import json; "
              "print(json.dumps([s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, "
              "s.CACHES['default']['BACKEND']]))")


def shell(env):
    result = manage("shell", "-c", PRINT_MODE, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_defaults_to_sqlite_and_the_filesystem_broker(tmp_path):
    engine, broker, cache = shell({"VAR_DIR": str(tmp_path)})
    assert engine == "core.sqlite3", "Django's SQLite backend, creating its files owner-only"
    assert broker.startswith("filesystem://")
    assert (tmp_path / "secrets.json").exists(), "generated keys must be kept so credentials decrypt after a restart"
    assert (tmp_path / "broker" / "queue").is_dir()


def test_it_uses_postgres_and_redis_when_configured(tmp_path):
    engine, broker, cache = shell({"VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
                                   "REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert engine == "django.db.backends.postgresql"
    assert broker == "redis://127.0.0.1:6379/3"
    assert cache == "django.core.cache.backends.redis.RedisCache"


def test_it_keeps_the_generated_keys_across_restarts(tmp_path):
    code = "from django.conf import settings as s; print(s.SECRET_KEY + ' ' + s.FIELD_ENCRYPTION_KEYS[0])"
    first = manage("shell", "-c", code, env={"VAR_DIR": str(tmp_path)}).stdout.strip().splitlines()[-1]
    second = manage("shell", "-c", code, env={"VAR_DIR": str(tmp_path)}).stdout.strip().splitlines()[-1]
    assert first == second and len(first.split()) == 2


def test_it_passes_the_deploy_checks_in_production(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.production", "VAR_DIR": str(tmp_path),
           "SECRET_KEY": Fernet.generate_key().decode() * 2, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
           "ALLOWED_HOSTS": "sync.example.com"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_production_without_a_secret_key(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.production", "VAR_DIR": str(tmp_path)}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_it_migrates_a_fresh_sqlite_database(tmp_path):
    result = manage("migrate", "--noinput", env={"VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "db.sqlite3") == 0o600, "like secrets.json: records, audit and credentials' ciphertext"
    check = manage("makemigrations", "--check", "--dry-run", env={"VAR_DIR": str(tmp_path)})
    assert check.returncode == 0, "models and migrations disagree:\n" + check.stdout


def test_it_migrates_a_fresh_postgres_database(tmp_path):
    from tests.helpers import postgres_drop_database, postgres_scratch_database

    if not postgres_reachable():
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = postgres_scratch_database("plantsync_migrate_check")
    try:
        result = manage("migrate", "--noinput", env={"VAR_DIR": str(tmp_path), "DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
    finally:
        postgres_drop_database("plantsync_migrate_check")


@pytest.mark.parametrize("extra", [{}, {"REDIS_URL": "redis://127.0.0.1:6379/3", "CELERY_BROKER_URL": "filesystem://"}],
                         ids=["default", "filesystem-broker-beside-redis"])
def test_it_keeps_every_filesystem_broker_folder_under_var_dir(tmp_path, extra):
    # kombu's defaults are relative to the working directory: ./control (the exchange table), ./data_in.
    code = "from django.conf import settings as s; import json; print(json.dumps(s.CELERY_BROKER_TRANSPORT_OPTIONS))"
    result = manage("shell", "-c", code, env={"VAR_DIR": str(tmp_path), **extra})
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout.strip().splitlines()[-1])
    folders = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
    assert {name: Path(options.get(name, ".")).resolve().is_relative_to(tmp_path) for name in folders} == dict.fromkeys(
        folders, True)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    """The umask most systems start with, under which SQLite would make its files world-readable."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.fixture
def scratch_sqlite(tmp_path, django_db_blocker):
    """A second SQLite connection, with the project's options (WAL), on a file of this test's own."""
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default's SQLite only")
    settings_dict = {**connections.settings["default"], "NAME": str(tmp_path / "db.sqlite3")}
    wrapper = DatabaseWrapper(settings_dict, alias="scratch")
    with django_db_blocker.unblock():  # not the test database: a file of the test's own
        yield wrapper
        wrapper.close()


def test_it_creates_the_sqlite_database_and_its_wal_files_owner_only(tmp_path, usual_umask, scratch_sqlite):
    with scratch_sqlite.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x int)")
        cursor.execute("INSERT INTO t VALUES (1)")
        files = {name: tmp_path / name for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm")}
        assert {name: mode(path) for name, path in files.items()} == dict.fromkeys(files, 0o600)


def test_it_tightens_a_database_file_made_before(tmp_path, usual_umask, scratch_sqlite):
    (tmp_path / "db.sqlite3").touch(mode=0o644)
    scratch_sqlite.ensure_connection()
    assert mode(tmp_path / "db.sqlite3") == 0o600


@pytest.mark.django_db
def test_it_opens_the_test_database_owner_only():
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default's SQLite only")
    connection.ensure_connection()
    assert mode(Path(connection.settings_dict["NAME"])) == 0o600


TAKE_THE_WRITE_LOCK = ("import sqlite3, sys; "
                       "sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None).execute('BEGIN IMMEDIATE')")


def test_it_keeps_the_locks_another_connection_of_this_process_holds(tmp_path, scratch_sqlite):
    # Closing any descriptor of the database file drops this process's POSIX locks on it: the
    # backend must never open the file itself, or two writers could corrupt it.
    path = tmp_path / "db.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held by this process
    scratch_sqlite.settings_dict["OPTIONS"] = {}  # the rollback journal, whose locks are on this file
    scratch_sqlite.ensure_connection()
    other = subprocess.run([sys.executable, "-c", TAKE_THE_WRITE_LOCK, str(path)], capture_output=True, text=True)
    holder.close()
    assert other.returncode != 0 and "database is locked" in other.stderr, "another process took the write lock"
