"""Admin for support staff: read customers and connections; change connections only
through the services, which validate and audit every write."""

from django import forms
from django.contrib import admin
from django.db.models import Count

from connections import services
from connections.connectors.entities import ENTITIES
from connections.models import Connection, Customer
from core.admin import ReadOnlyAdmin, error_text, report
from core.audit import Actor, admin_actor
from core.errors import CatalogError
from syncs import lifecycle
from syncs.models import Trigger
from syncs.services import sync_trigger


def form_error_add(form: forms.BaseForm, exc: CatalogError) -> None:
    """A service's refusal on the form: each listed field beside its input, the rest above the form."""
    fields = exc.details.get("fields") or {}
    for name, text in fields.items():
        form.add_error(name if name in form.fields else None, f"{exc.message} ({name}: {text})")
    if not fields:
        form.add_error(None, f"{exc.code}: {exc.message}")


class ConnectionPermissions:
    """The custom permissions of Connection's Meta, for `@admin.action(permissions=[...])`."""

    def has_trigger_sync_permission(self, request):
        return request.user.has_perm("connections.trigger_sync")

    def has_manage_connection_permission(self, request):
        return request.user.has_perm("connections.manage_connection")


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ["name", "external_id", "connection_count", "created_at"]
    search_fields = ["name", "external_id"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_connections=Count("connections"))

    # Customers are made by connection_create; no service edits or deletes one yet.

    @admin.display(description="Connections", ordering="_connections")
    def connection_count(self, obj):
        return obj._connections


class ConnectionForm(forms.ModelForm):
    """Settings of an existing connection, validated and written by `connection_update`."""

    entities = forms.MultipleChoiceField(choices=[(e, e) for e in ENTITIES], widget=forms.CheckboxSelectMultiple,
                                         help_text="Only those the connector supports are accepted.")
    actor: Actor  # set by ConnectionAdmin.get_form: the service audits the change as this user

    class Meta:
        model = Connection
        fields = ["name", "entities", "sync_interval_minutes", "history_days", "config", "metadata"]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and self.changed_data:
            self._update(cleaned)
        return cleaned

    def _update(self, cleaned: dict) -> None:
        # The service is both the check and the write, so its refusal can be shown here beside the
        # field; the admin's change view runs in one transaction, so a later failure undoes it.
        try:
            # connection_update reads a 0 as "unchanged" and would store it; check the numbers as typed.
            services.connection_numbers_validate(sync_interval_minutes=cleaned["sync_interval_minutes"],
                                                 history_days=cleaned["history_days"])
            lifecycle.connection_update(connection=self.instance, actor=self.actor,
                                       **{name: cleaned[name] for name in self.changed_data})
        except CatalogError as exc:
            form_error_add(self, exc)


@admin.register(Connection)
class ConnectionAdmin(ConnectionPermissions, admin.ModelAdmin):
    list_display = ["name", "customer", "connector", "status", "token_prefix", "sync_interval_minutes", "created_at"]
    list_filter = ["status", "connector"]
    search_fields = ["name", "customer__name", "id", "token_prefix"]
    list_select_related = ["customer"]
    form = ConnectionForm
    # Credentials are never shown or edited here in clear; only their key names are listed.
    # Status moves only through the actions (pause, resume), which record a reason.
    fields = ["id", "customer", "connector", "name", "status", "status_reason", "entities", "sync_interval_minutes",
              "history_days", "config", "metadata", "token_prefix", "credential_fields", "status_changed_at",
              "paused_at", "disconnected_at", "created_at", "updated_at"]
    readonly_fields = ["id", "customer", "connector", "status", "status_reason", "token_prefix", "credential_fields",
                       "status_changed_at", "paused_at", "disconnected_at", "created_at", "updated_at"]
    actions = ["sync_now", "full_resync", "pause", "resume"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": admin_actor(request)})

    # A new connection needs its credentials checked upstream and its token shown once: the
    # dashboard's connect page does both (templates/admin/connections/connection/change_list.html).
    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        pass  # ConnectionForm.clean already saved it through connection_update

    def delete_model(self, request, obj):
        lifecycle.connection_delete(connection=obj, actor=admin_actor(request))

    def delete_queryset(self, request, queryset):
        for connection in queryset:
            lifecycle.connection_delete(connection=connection, actor=admin_actor(request))

    def _sync(self, request, queryset, mode: str, verb: str):
        actor, queued, errors = admin_actor(request), 0, []
        for connection in queryset.select_related("customer"):
            try:
                # The admin is a staff screen like the dashboard; the audit entry says "admin".
                results = sync_trigger(connection=connection, mode=mode, trigger=Trigger.DASHBOARD,
                                       requested_by=actor.name, request_id=actor.request_id, actor=actor)
                queued += sum(r.created for r in results)
            except CatalogError as exc:
                errors.append(error_text(connection, exc))
        report(self, request, done=queued, verb=verb, errors=errors)

    @admin.action(description="Sync now (incremental, all enabled entities)", permissions=["trigger_sync"])
    def sync_now(self, request, queryset):
        self._sync(request, queryset, "incremental", "Runs queued")

    @admin.action(description="Full re-sync (all enabled entities)", permissions=["trigger_sync"])
    def full_resync(self, request, queryset):
        self._sync(request, queryset, "full", "Full re-sync runs queued")

    @admin.action(description="Pause (stop scheduling, cancel queued runs)", permissions=["manage_connection"])
    def pause(self, request, queryset):
        self._change_status(request, queryset, lifecycle.connection_pause, verb="Paused")

    @admin.action(description="Resume", permissions=["manage_connection"])
    def resume(self, request, queryset):
        self._change_status(request, queryset, lifecycle.connection_resume, verb="Resumed")

    def _change_status(self, request, queryset, service, *, verb: str) -> None:
        actor, done, errors = admin_actor(request), 0, []
        for connection in queryset.select_related("customer"):
            try:
                was = connection.status
                done += service(connection=connection, actor=actor).status != was
            except CatalogError as exc:
                errors.append(error_text(connection, exc))
        report(self, request, done=done, verb=verb, errors=errors)

    @admin.display(description="Credentials")
    def credential_fields(self, obj):
        keys = sorted((obj.credentials or {}).keys())
        return ", ".join(f"{key}=••••••" for key in keys) or "(none)"
