import pytest
from django.core.cache import cache

from tests.conftest import shares_its_clock


@pytest.fixture(autouse=True)
def link_clock(request):
    """Links expire and limits count per minute: each test starts at a fixed instant, except
    those with a browser and a worker (tests/conftest.py: fixed_now)."""
    if not shares_its_clock(request.node):
        request.getfixturevalue("fixed_now")


def forget_limits(settings) -> None:
    if settings.REDIS_URL:
        client = cache._cache.get_client(None, write=True)
        for key in client.scan_iter(match="*plantsync:connect-link:*"):
            client.delete(key)


@pytest.fixture(autouse=True)
def fresh_limits(settings):
    """The limits' counters in Redis outlive a test (the database's roll back with it), and the
    frozen clock puts every run in the same minute: each test starts from zero."""
    forget_limits(settings)
    yield
    forget_limits(settings)
