"""Django's SQLite backend, with the database files readable by their owner only.

The embedded default keeps its database under VAR_DIR beside var/secrets.json (mode 600). The
database holds the records, the audit log and the credentials' ciphertext, so it gets the same
mode: created 600 before SQLite opens it (SQLite would create it with the umask, 644), and an
older file made before this is tightened. SQLite gives its -wal and -shm files the database
file's mode; ones left from before are tightened too.
"""

import os
import tempfile
from pathlib import Path

from django.db.backends.sqlite3 import base

OWNER_ONLY = 0o600


def owner_only(path: Path) -> None:
    """Create the database file (empty: SQLite takes it as a new database), then tighten every file."""
    if not path.exists():
        create_owner_only(path)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        tighten(file)


def create_owner_only(path: Path) -> None:
    # Never open the database file itself: closing any descriptor of it drops every POSIX lock this
    # process holds on it, so another connection's lock would silently go and the file could be
    # corrupted (sqlite.org/howtocorrupt.html, 2.2). An empty file made 600 (mkstemp's mode) and
    # closed, then linked into place, was never open as the database; the link refuses to clobber.
    try:
        descriptor, made = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except FileNotFoundError:
        return  # no such folder: SQLite will say so when it opens the file
    os.close(descriptor)
    try:
        os.link(made, path)
    except FileExistsError:
        pass  # another process or thread made it first
    finally:
        os.unlink(made)


def tighten(path: Path) -> None:
    """By path, never through a descriptor (see create_owner_only)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return
    # Only the owner may chmod; a file someone shared on purpose under another user is left alone.
    if stat.st_mode & 0o077 and stat.st_uid == os.getuid():
        path.chmod(OWNER_ONLY)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        name = str(conn_params["database"])
        # Django opens every database as a URI; a plain path is a file, "file:..." (in-memory test
        # databases) is not ours to create.
        if not name.startswith("file:") and not self.creation.is_in_memory_db(name):
            owner_only(Path(name))
        return super().get_new_connection(conn_params)
