import pytest


@pytest.fixture(autouse=True)
def link_clock(request):
    """Links expire and limits count per minute: each test starts at a fixed instant, except
    those with a browser and a worker (tests/conftest.py: fixed_now)."""
    from tests.conftest import shares_its_clock

    if not shares_its_clock(request.node):
        request.getfixturevalue("fixed_now")
