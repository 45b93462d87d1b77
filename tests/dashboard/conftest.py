import pytest

from tests.conftest import shares_its_clock
from tests.dashboard.factories import OPERATOR_PERMISSIONS, VIEW_PERMISSIONS, grant


@pytest.fixture(autouse=True)
def dashboard_clock(request):
    """Pages show charts over a range up to now, counts over 24 h and times relative to now: each test
    runs at a fixed instant (tests/conftest.py: fixed_now), except those with a real worker and
    browser, which keep the real clock of the processes they share it with."""
    if not shares_its_clock(request.node):
        request.getfixturevalue("fixed_now")


@pytest.fixture
def viewer(django_user_model):
    """Staff with the view permissions only: sees every page, no action buttons."""
    return grant(django_user_model.objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True),
                 *VIEW_PERMISSIONS)


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def operator(django_user_model):
    """An ops engineer with the dashboard's action permissions, not a superuser."""
    return grant(django_user_model.objects.create_user("operator", "op@example.com", "pw", is_staff=True),
                 *OPERATOR_PERMISSIONS)


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client

