"""Bounds on the JSON the product takes in (metadata, config, credentials, event types...) and
a defensive form of what it renders back.

Every service that stores a JSON value from outside calls `json_limits_check` before it saves
anything; the API, the dashboard and the CLI all go through those services. Both walks use an
explicit stack: a value nested thousands of levels deep must not exhaust Python's own stack.
"""

import json
import logging
from typing import Any

from core.errors import CatalogError

log = logging.getLogger(__name__)

# Settings and labels are a few levels deep; 32 is far beyond any real config or metadata.
MAX_DEPTH = 32
# Real configs and metadata are a few hundred bytes. 64 KB leaves room for large mappings while
# keeping every stored row, and a page of 500 of them in the API, a bounded size.
MAX_BYTES = 64 * 1024
# Rows stored before the limits may be deeper than MAX_DEPTH and still render; orjson refuses
# to encode past 254 levels, and the response nests a stored value a few levels down.
RENDER_MAX_DEPTH = 128
TOO_DEEP_PLACEHOLDER = {"_error": "stored value nested too deep to render"}


def json_depth_exceeds(value: Any, *, max_depth: int) -> bool:
    """Whether lists and objects nest deeper than `max_depth` (a scalar is depth 0, {} is 1)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth + 1 > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _encoded_size(value: Any) -> int:
    # Only called once the depth is bounded, so the encoder's recursion is too.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode("utf-8", "surrogatepass"))


def json_limits_check(value: Any, *, field: str, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """Refuses a value nested deeper than `max_depth` or larger than `max_bytes` encoded,
    with VALIDATION_FAILED naming `field`. Returns the value unchanged."""
    if json_depth_exceeds(value, max_depth=max_depth):
        raise CatalogError("VALIDATION_FAILED", f"{field} is nested deeper than {max_depth} levels.",
                           details={"fields": {field: f"nested deeper than {max_depth} levels"}})
    if _encoded_size(value) > max_bytes:
        raise CatalogError("VALIDATION_FAILED", f"{field} is larger than {max_bytes // 1024} KB.",
                           details={"fields": {field: f"larger than {max_bytes // 1024} KB as JSON"}})
    return value


def json_for_output(value: Any, *, what: str) -> Any:
    """A stored value as it can be rendered: itself, or a placeholder when it is nested too deep
    to encode (a row written before the limits, or behind the services' back)."""
    if not json_depth_exceeds(value, max_depth=RENDER_MAX_DEPTH):
        return value
    log.warning("%s is nested deeper than %d levels; rendered as a placeholder", what, RENDER_MAX_DEPTH)
    return dict(TOO_DEEP_PLACEHOLDER)
