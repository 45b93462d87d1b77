import logging

import pytest

from core.errors import CatalogError
from core.json_limits import (
    MAX_BYTES,
    MAX_DEPTH,
    RENDER_MAX_DEPTH,
    TOO_DEEP_PLACEHOLDER,
    json_depth_exceeds,
    json_for_output,
    json_limits_check,
)


def nested(levels: int, leaf=1, *, kind=dict):
    """`levels` objects (or lists) inside one another around `leaf`, built without recursion."""
    value = leaf
    for _ in range(levels):
        value = {"a": value} if kind is dict else [value]
    return value


def refusal(value, field="metadata", **limits) -> CatalogError:
    with pytest.raises(CatalogError) as caught:
        json_limits_check(value, field=field, **limits)
    assert caught.value.code == "VALIDATION_FAILED"
    return caught.value


def test_it_accepts_values_up_to_the_depth_limit():
    for value in (nested(MAX_DEPTH), nested(MAX_DEPTH, kind=list), {}, [], "text", 7, None):
        assert json_limits_check(value, field="metadata") is value


@pytest.mark.parametrize("kind", [dict, list])
def test_it_refuses_one_level_more_naming_the_field(kind):
    error = refusal({"faults": nested(MAX_DEPTH, kind=kind)}, field="config")
    assert error.details == {"fields": {"config": "nested deeper than 32 levels"}}


def test_it_walks_a_value_far_deeper_than_the_interpreter_could_recurse():
    assert json_depth_exceeds(nested(100_000), max_depth=MAX_DEPTH)
    refusal(nested(100_000, kind=list))


def test_it_finds_the_deep_branch_among_shallow_ones():
    value = {"wide": [{"x": i} for i in range(50)], "deep": [1, 2, {"b": nested(MAX_DEPTH)}]}
    assert json_depth_exceeds(value, max_depth=MAX_DEPTH)


def test_it_refuses_values_larger_than_the_size_limit():
    assert json_limits_check({"note": "x" * (MAX_BYTES - 100)}, field="metadata")
    error = refusal({"note": "x" * MAX_BYTES})
    assert error.details == {"fields": {"metadata": "larger than 64 KB as JSON"}}
    # Counted in UTF-8 bytes: 22,000 three-byte characters are 66 KB.
    refusal({"note": "€" * 22_000})


def test_it_renders_a_stored_value_that_encodes_and_replaces_one_too_deep(caplog):
    fine = nested(RENDER_MAX_DEPTH)
    assert json_for_output(fine, what="row 1 metadata") is fine
    with caplog.at_level(logging.WARNING, logger="core.json_limits"):
        assert json_for_output(nested(5_000), what="row 2 metadata") == TOO_DEEP_PLACEHOLDER
    assert [r.getMessage() for r in caplog.records] == [
        "row 2 metadata is nested deeper than 128 levels; rendered as a placeholder"]
