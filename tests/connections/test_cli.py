import pytest
from django.core.management.base import CommandError

from core.cli import json_argument


def test_it_reads_a_json_object_argument():
    assert json_argument('{"records": 5}', name="config") == {"records": 5}


def test_it_refuses_json_nested_deeper_than_the_parser_recurses():
    levels = 100_000
    with pytest.raises(CommandError) as caught:
        json_argument('{"a": ' * levels + "1" + "}" * levels, name="config")
    assert str(caught.value) == "VALIDATION_FAILED: --config is nested deeper than 32 levels"
