"""Buttons on a connection's page. Each goes through a service (which audits it), then answers
htmx with the region it changed, or a plain POST with a redirect (PRG)."""

from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from connections import services as connection_services
from connections.connectors.registry import connector_class
from connections.models import Connection
from core.errors import CatalogError
from dashboard import services as dashboard_services
from dashboard.forms import ConnectionSettingsForm, CredentialsForm
from dashboard.selectors import connections as selectors
from dashboard.templatetags.dashboard import humanize_entity
from dashboard.views.common import (
    PERM_MANAGE,
    PERM_SYNC,
    VIEW_CONNECTIONS,
    VIEW_RUNS,
    Flash,
    action_view,
    actor_for,
    attempt,
    dashboard_view,
    flash_navigate,
    flash_redirect,
    no_store,
    require_perm,
    template_for,
)
from dashboard.views.connect import form_error_flash
from dashboard.views.connections import detail_context
from syncs import lifecycle
from syncs import services as sync_services
from syncs.models import Mode, SyncRun, Trigger


def _page_url(connection) -> str:
    return reverse("dashboard:connection", args=[connection.pk])


def _answer_live(request, connection, flash: Flash):
    """Sync buttons change only the entity table: htmx swaps that region in place."""
    if request.htmx:
        return render(request, "dashboard/connection.html#live",
                      {"connection": connection, "live": selectors.connection_live(connection=connection),
                       "live_flash": flash})
    return flash_redirect(request, flash, _page_url(connection))


def _answer_page(request, connection, flash: Flash, **extra):
    if request.htmx:
        connection.refresh_from_db()
        return render(request, "dashboard/connection.html#connection",
                      detail_context(request, connection, flash=flash, **extra))
    return flash_redirect(request, flash, _page_url(connection))


def _sync_text(results, mode: str) -> str:
    created = [humanize_entity(r.run.entity) for r in results if r.created]
    already = [humanize_entity(r.run.entity) for r in results if not r.created]
    parts = []
    if created:
        parts.append(f"{'Full re-sync' if mode == Mode.FULL else 'Sync'} queued for {', '.join(created)}.")
    if already:
        parts.append(f"Already running: {', '.join(already)} (the active run covers it).")
    return " ".join(parts) or "Nothing to sync."


@action_view(PERM_SYNC, page=VIEW_CONNECTIONS)
def connection_sync(request, connection_id):
    """Sync now / Full resync, for one entity (`entity`) or all enabled ones. A full resync is
    asked about first: by htmx's hx-confirm, or, without JavaScript, on a page of its own."""
    connection = selectors.connection_get(connection_id=connection_id)
    mode = Mode.FULL if request.POST.get("mode") == Mode.FULL else Mode.INCREMENTAL
    entity = request.POST.get("entity") or None
    if mode == Mode.FULL and not request.htmx and request.POST.get("confirmed") != "yes":
        return render(request, "dashboard/connection_sync_confirm.html",
                      {"connection": connection, "entity": entity, "entities": [entity] if entity else
                       connection.entities})
    actor = actor_for(request)
    flash = attempt(lambda: sync_services.sync_trigger(
        connection=connection, entities=[entity] if entity else None, mode=mode, trigger=Trigger.DASHBOARD,
        requested_by=actor.name, request_id=actor.request_id, actor=actor), ok_text=lambda r: _sync_text(r, mode))
    return _answer_live(request, connection, flash)


@action_view(PERM_SYNC, page=VIEW_CONNECTIONS + VIEW_RUNS)  # answers the live region or the run page
def run_cancel(request, run_id):
    run = get_object_or_404(SyncRun.objects.select_related("connection__customer"), pk=run_id)
    flash = attempt(lambda: sync_services.sync_run_cancel(run=run, actor=actor_for(request)),
                    ok_text=lambda r: f"Cancel requested for {humanize_entity(r.entity)}; a running run stops after "
                    "its current page." if r.status == SyncRun.Status.RUNNING
                    else f"The {humanize_entity(r.entity)} run is {r.status}.")
    if request.htmx and request.htmx.target == "live":
        return _answer_live(request, run.connection, flash)
    from dashboard.views.runs import answer_run

    return answer_run(request, run, flash)


@action_view(PERM_MANAGE, page=VIEW_CONNECTIONS)
def connection_pause(request, connection_id):
    connection = selectors.connection_get(connection_id=connection_id)
    flash = attempt(lambda: lifecycle.connection_pause(
        connection=connection, actor=actor_for(request), reason=request.POST.get("reason", "").strip()),
        ok_text="Paused: nothing is scheduled, queued runs were cancelled.")
    return _answer_page(request, connection, flash)


@action_view(PERM_MANAGE, page=VIEW_CONNECTIONS)
def connection_resume(request, connection_id):
    connection = selectors.connection_get(connection_id=connection_id)
    flash = attempt(lambda: lifecycle.connection_resume(connection=connection, actor=actor_for(request)),
                    ok_text="Resumed: every entity is due now and syncs on the next scheduler tick.")
    return _answer_page(request, connection, flash)


@action_view(PERM_MANAGE, page=VIEW_CONNECTIONS)
def connection_test(request, connection_id):
    connection = selectors.connection_get(connection_id=connection_id)
    result = dashboard_services.connection_test_audited(connection=connection, actor=actor_for(request))
    flash = Flash.from_probe(result)
    return _answer_page(request, connection, flash)


@action_view(PERM_MANAGE, page=VIEW_CONNECTIONS)
def connection_rotate_token(request, connection_id):
    """The new token is in this response only, so there is no redirect even without htmx."""
    connection = selectors.connection_get(connection_id=connection_id)
    try:
        token = connection_services.connection_token_rotate(connection=connection, actor=actor_for(request))
    except CatalogError as exc:
        return _answer_page(request, connection, Flash.from_error(exc))
    flash = Flash(level="success", text="New API token issued; the previous one no longer works.")
    template = "dashboard/connection.html#connection" if request.htmx else "dashboard/connection.html"
    connection.refresh_from_db()
    return no_store(render(request, template, detail_context(request, connection, flash=flash, new_token=token)))


@action_view(PERM_MANAGE, page=VIEW_CONNECTIONS)
def connection_settings(request, connection_id):
    """Edits interval, history_days and entities; invalid input comes back with field errors."""
    connection = selectors.connection_get(connection_id=connection_id)
    form = ConnectionSettingsForm(request.POST, connection=connection,
                                  supported=connector_class(connection.connector).entities)
    flash = None
    if form.is_valid():
        flash = attempt(lambda: lifecycle.connection_update(
            connection=connection, actor=actor_for(request), entities=form.cleaned_data["entities"],
            sync_interval_minutes=form.cleaned_data["sync_interval_minutes"],
            history_days=form.cleaned_data["history_days"]), ok_text="Settings saved.")
        if flash.level == "success":
            return _answer_page(request, connection, flash)
    flash = flash or Flash(level="error", text="Some settings are invalid; see the form.", code="VALIDATION_FAILED")
    template = "dashboard/connection.html#connection" if request.htmx else "dashboard/connection.html"
    connection.refresh_from_db()
    return render(request, template, detail_context(request, connection, flash=flash, settings_form=form,
                                                    settings_open=True))


@action_view(PERM_MANAGE, page=VIEW_CONNECTIONS)
def connection_credentials(request, connection_id):
    """Reauthorize / update credentials: checked upstream before they replace the stored ones;
    good ones lift auth_failed. A refusal comes back inline in the form, with its catalogued code,
    message and what to do; nothing typed is echoed back."""
    connection = selectors.connection_get(connection_id=connection_id)
    form = CredentialsForm(request.POST, connector=connector_class(connection.connector))
    if form.is_valid():
        was = connection.status
        try:
            connection = dashboard_services.connection_reauthorize(
                connection=connection, credentials=form.values("credentials"), actor=actor_for(request))
        except CatalogError as exc:
            form.add_catalog_error(exc)  # on the fields it concerns; the flash says the rest
            flash = form_error_flash(form, exc)
        else:
            text = "New credentials verified and saved."
            if was == Connection.Status.AUTH_FAILED and connection.status == Connection.Status.ACTIVE:
                text += " The connection is active again: syncs resume on schedule, or press Sync all now to catch up."
            return _answer_page(request, connection, Flash(level="success", text=text))
    else:
        flash = Flash(level="error", text="Some values need correcting; see the marked fields.",
                      code="VALIDATION_FAILED")
    form.forget_input()
    connection.refresh_from_db()  # a refused update may have touched the instance, never the row
    template = "dashboard/connection.html#connection" if request.htmx else "dashboard/connection.html"
    # htmx swaps only 2xx answers; a plain POST gets the page with the form and a 400.
    return render(request, template, detail_context(request, connection, credentials_form=form,
                                                    credentials_flash=flash, credentials_open=True),
                  status=200 if request.htmx else 400)


@dashboard_view(VIEW_CONNECTIONS)
@require_http_methods(["GET", "POST"])
def connection_disconnect(request, connection_id):
    """GET asks for confirmation on a page of its own (so it works without JavaScript) and says
    what stops and what is kept; POST disconnects and goes back to the connection's page."""
    require_perm(request, PERM_MANAGE)
    connection = selectors.connection_get(connection_id=connection_id)
    flash = None
    if request.method == "POST":
        if connection.status == Connection.Status.DISCONNECTED:
            # connection_disconnect is not idempotent: a second call would move disconnected_at and audit again.
            return flash_navigate(request, Flash(level="info", text="Already disconnected."), _page_url(connection))
        actor = actor_for(request)
        flash = attempt(lambda: lifecycle.connection_disconnect(connection=connection, actor=actor),
                        ok_text="Disconnected: the API token is revoked, nothing is scheduled and any queued or "
                                "running run was cancelled. The synced records are kept.")
        if flash.level == "success":
            return flash_navigate(request, flash, _page_url(connection))
    context = {"connection": connection, "impact": selectors.connection_disconnect_impact(connection=connection),
               "flash": flash}
    return render(request, template_for(request, "dashboard/connection_disconnect.html", "confirm"), context)
