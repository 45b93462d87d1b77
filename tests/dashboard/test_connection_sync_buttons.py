"""The sync buttons of a connection's page (the page, its live region, and the region a sync
action answers with): a full resync asks first, and a sync the service would refuse is offered
disabled with the reason and what lifts it."""

import re

import pytest

from connections.models import Connection
from syncs.models import SyncRun
from tests.dashboard.factories import HTMX, idle_connection

pytestmark = pytest.mark.django_db


def set_status(connection, status: str) -> Connection:
    Connection.objects.filter(pk=connection.pk).update(status=status, status_reason="401 from the sandbox.")
    connection.refresh_from_db()
    return connection


def live_region(client, connection, *, htmx: bool) -> str:
    """The entities region: on the whole page without htmx, alone from the live view with it."""
    if htmx:
        body = client.get(f"/connections/{connection.pk}/live", **HTMX).content.decode()
        assert body.lstrip().startswith('<section id="live"')
        return body
    body = client.get(f"/connections/{connection.pk}/").content.decode()
    return body[body.index('<section id="live"'):body.index("</section>", body.index('<section id="live"'))]


def sync_buttons(region: str) -> list[str]:
    return re.findall(r'<button type="submit" name="mode" value="(?:incremental|full)"[^>]*>[^<]*</button>', region)


@pytest.mark.parametrize("htmx", [True, False])
def test_it_asks_before_a_full_resync_on_the_form_htmx_sends(operator_client, htmx):
    region = live_region(operator_client, idle_connection(entities=["vendors", "assets"]), htmx=htmx)
    forms = re.findall(r"<form [^>]*>.*?</form>", region, flags=re.S)
    full = [f for f in forms if 'value="full"' in f]
    incremental = [f for f in forms if 'value="incremental"' in f]
    assert len(full) == 3 and len(incremental) == 3  # "all" and one per entity
    assert all('hx-confirm="Full re-sync of' in f and 'value="incremental"' not in f for f in full)
    assert not any("hx-confirm" in f for f in incremental)  # a sync now is cheap: no question


@pytest.mark.parametrize("htmx", [True, False])
def test_it_disables_the_sync_buttons_of_an_auth_failed_connection_with_a_way_out(operator_client, htmx):
    connection = set_status(idle_connection(entities=["vendors", "assets"]), Connection.Status.AUTH_FAILED)
    region = live_region(operator_client, connection, htmx=htmx)
    buttons = sync_buttons(region)
    assert len(buttons) == 6 and all(" disabled " in b and 'aria-describedby="sync-blocked"' in b for b in buttons)
    assert 'id="sync-blocked"' in region and "until the connection is reauthorized" in region
    assert f'href="/connections/{connection.pk}/#reauthorize"' in region


@pytest.mark.parametrize("htmx", [True, False])
def test_it_disables_them_on_a_paused_connection_and_says_resume(operator_client, htmx):
    connection = set_status(idle_connection(entities=["vendors"]), Connection.Status.PAUSED)
    region = live_region(operator_client, connection, htmx=htmx)
    assert len(sync_buttons(region)) == 4 and all(" disabled " in b for b in sync_buttons(region))
    assert "Syncing is off while the connection is paused" in region and "Resume" in region


@pytest.mark.parametrize("status", ["active", "pending", "unreachable"])
def test_it_leaves_them_enabled_where_the_service_syncs(operator_client, status):
    region = live_region(operator_client, set_status(idle_connection(entities=["vendors"]), status), htmx=True)
    assert len(sync_buttons(region)) == 4 and not any("disabled" in b for b in sync_buttons(region))
    assert 'id="sync-blocked"' not in region


def test_it_shows_no_sync_buttons_on_a_disconnected_connection(operator_client):
    region = live_region(operator_client, set_status(idle_connection(), Connection.Status.DISCONNECTED), htmx=True)
    assert sync_buttons(region) == [] and 'id="sync-blocked"' not in region


def test_a_read_only_user_gets_neither_the_buttons_nor_the_note(viewer_client):
    connection = set_status(idle_connection(), Connection.Status.AUTH_FAILED)
    region = live_region(viewer_client, connection, htmx=True)
    assert sync_buttons(region) == [] and 'id="sync-blocked"' not in region


@pytest.mark.parametrize("htmx", [True, False])
def test_a_sync_refused_meanwhile_answers_with_the_buttons_disabled(operator_client, htmx):
    # The page was loaded while active; the credentials failed before the click.
    connection = set_status(idle_connection(entities=["vendors"]), Connection.Status.AUTH_FAILED)
    before = SyncRun.objects.count()
    response = operator_client.post(f"/connections/{connection.pk}/sync", {"mode": "full", "confirmed": "yes"},
                                    **(HTMX if htmx else {}))
    assert SyncRun.objects.count() == before
    if htmx:
        body = response.content.decode()
        assert "REAUTHORIZATION_REQUIRED" in body and all(" disabled " in b for b in sync_buttons(body))
    else:
        assert response.status_code == 302 and response["Location"] == f"/connections/{connection.pk}/"
