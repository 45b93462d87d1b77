"""The mapping fingerprint: what, besides the raw record, decides what a connector maps it to.

A re-sync recognises an unchanged record by a hash of the fingerprint and its raw JSON before
normalizing it (docs/architecture.md, "Sync semantics"), so the fingerprint changes whenever the
same raw could map differently: another connector, its `mapping_version`, the source of the
modules the mapping runs (the connector's own and the generic parsing and schema ones), or the
connection's config. Credentials are not part of it: they never change what a record maps to.
"""

import hashlib
import inspect
from functools import cache
from pathlib import Path

import orjson

from connections.connectors import base, parsing

_ROOT = Path(base.__file__).resolve().parents[2]
# Modules every connector's mapping depends on, whatever the connector.
_GENERIC = (str(Path(base.__file__).resolve()), str(Path(parsing.__file__).resolve()),
            *sorted(str(p) for p in (Path(base.__file__).resolve().parent / "schema").glob("*.py")))


def mapping_fingerprint(*, connector: base.Connector) -> bytes:
    """16 bytes; cheap enough to compute once per page (the source part is cached per class)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(orjson.dumps([type(connector).key, str(type(connector).mapping_version)]))
    digest.update(_source_hash(type(connector)))
    digest.update(orjson.dumps(connector.config, option=orjson.OPT_SORT_KEYS, default=str))
    return digest.digest()


@cache
def _source_hash(cls: type) -> bytes:
    # The classes a connector inherits its mapping from are as much its mapping as its own module.
    files = {str(Path(inspect.getfile(klass)).resolve()) for klass in cls.__mro__ if klass is not object}
    digest = hashlib.blake2b(digest_size=16)
    # Named relative to the project, so the same code checked out elsewhere maps the same.
    for name, path in sorted((_relative(path), path) for path in files | set(_GENERIC)):
        digest.update(name.encode())
        digest.update(Path(path).read_bytes())
    return digest.digest()


def _relative(path: str) -> str:
    try:
        return Path(path).relative_to(_ROOT).as_posix()
    except ValueError:  # a connector class from outside the project
        return Path(path).name
