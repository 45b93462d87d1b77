"""Admin for support staff: read customers and connections; change connections only
through the services, which validate and audit every write."""

import json

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils import timezone

from connections import connect_links, services
from connections.connectors.base import ConfigField
from connections.connectors.entities import ENTITIES
from connections.connectors.registry import connector_class
from connections.forms import ConnectorFieldsMixin
from connections.models import Connection, ConnectLink, Customer
from core.admin import ReadOnlyAdmin, error_text, report
from core.audit import Actor, admin_actor
from core.errors import CatalogError
from syncs import lifecycle
from syncs.models import Trigger
from syncs.services import sync_trigger


def form_error_add(form: forms.BaseForm, exc: CatalogError) -> None:
    """A service's refusal on the form: each listed field beside its input ("config.seed" on the
    connector field `config__seed`), the rest above the form."""
    fields = exc.details.get("fields") or {}
    for name, text in fields.items():
        field = name.replace(".", "__", 1)
        form.add_error(field if field in form.fields else None, f"{exc.message} ({name}: {text})")
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


class ConnectionForm(ConnectorFieldsMixin, forms.ModelForm):
    """Settings of an existing connection, validated and written by `connection_update`. The config
    is edited through the connector's declared fields (`config__<name>`), as on the dashboard's
    connect form, never as raw JSON; credentials are not on this form at all."""

    entities = forms.MultipleChoiceField(choices=[(e, e) for e in ENTITIES], widget=forms.CheckboxSelectMultiple,
                                         help_text="Only those the connector supports are accepted.")
    actor: Actor  # set by ConnectionAdmin.get_form: the service audits the change as this user

    class Meta:
        model = Connection
        fields = ["name", "entities", "sync_interval_minutes", "history_days", "metadata"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.config_specs = {spec.name: spec for spec in config_specs(self.instance)}
        self.add_connector_fields("config", self.config_specs.values())
        for name, value in self.instance.config.items():
            if name in self.config_specs:
                self.initial[f"config__{name}"] = value

    def clean(self):
        cleaned = super().clean()
        if not self.errors and self.changed_data:
            changes = self._changes(cleaned)
            if not self.errors:
                self._update(cleaned, changes)
        return cleaned

    def _changes(self, cleaned: dict) -> dict:
        """The changed settings as connection_update takes them; the config as the changed keys
        only, since the service merges them into the stored config."""
        changes = {name: cleaned[name] for name in self.changed_data if name in self.Meta.fields}
        config = {}
        for field in (name for name in self.changed_data if name.startswith("config__")):
            spec = self.config_specs[field.removeprefix("config__")]
            value = cleaned[field]
            if value in (None, "") and spec.default is None:
                # The service merges config, so a cleared key would silently stay as it was.
                self.add_error(field, "Cannot be cleared here: the stored value stays until another is set.")
            config[spec.name] = spec.default if value in (None, "") else value
        if config:
            changes["config"] = config
        return changes

    def _update(self, cleaned: dict, changes: dict) -> None:
        # The service is both the check and the write, so its refusal can be shown here beside the
        # field; the admin's change view runs in one transaction, so a later failure undoes it.
        try:
            # connection_update reads a 0 as "unchanged" and would store it; check the numbers as typed.
            services.connection_numbers_validate(sync_interval_minutes=cleaned["sync_interval_minutes"],
                                                 history_days=cleaned["history_days"])
            lifecycle.connection_update(connection=self.instance, actor=self.actor, **changes)
        except CatalogError as exc:
            form_error_add(self, exc)


def config_specs(connection: Connection) -> tuple[ConfigField, ...]:
    """The connector's declared config fields, secrets left out (none is shown in the admin). A
    connector no longer installed has none: its connection can still be paused or deleted."""
    try:
        return tuple(spec for spec in connector_class(connection.connector).config_fields if not spec.secret)
    except CatalogError:
        return ()


@admin.register(Connection)
class ConnectionAdmin(ConnectionPermissions, admin.ModelAdmin):
    list_display = ["name", "customer", "connector", "status", "token_prefix", "sync_interval_minutes", "created_at"]
    list_filter = ["status", "connector"]
    search_fields = ["name", "customer__name", "id", "token_prefix"]
    list_select_related = ["customer"]
    form = ConnectionForm
    # Credentials are never shown or edited here in clear; only their key names are listed.
    # Status moves only through the actions (pause, resume, disconnect), which audit it.
    readonly_fields = ["id", "customer", "connector", "status", "status_reason", "token_prefix", "credential_fields",
                       "config_display", "status_changed_at", "paused_at", "disconnected_at", "created_at",
                       "updated_at"]
    actions = ["sync_now", "full_resync", "pause", "resume", "disconnect"]

    def get_fieldsets(self, request, obj=None):
        # The config's inputs are the connector's own fields, so they depend on the connection;
        # someone who may only look sees the stored values instead.
        editable = self.has_change_permission(request, obj)
        config = [f"config__{spec.name}" for spec in config_specs(obj)] if obj and editable else ["config_display"]
        return [
            (None, {"fields": ["id", "customer", "connector", "name", "entities", "sync_interval_minutes",
                               "history_days", "metadata"]}),
            ("Configuration (the connector's fields, checked as on the dashboard's connect form)",
             {"fields": config}),
            ("Status (changed only through the actions: pause, resume, disconnect)",
             {"fields": ["status", "status_reason", "status_changed_at", "paused_at", "disconnected_at"]}),
            ("Access", {"fields": ["token_prefix", "credential_fields"]}),
            ("Times", {"fields": ["created_at", "updated_at"]}),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # Only the model's fields go to the factory: the `config__` inputs are added by the form itself.
        kwargs["fields"] = ConnectionForm.Meta.fields
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": admin_actor(request)})

    # A new connection needs its credentials checked upstream and its token shown once: the
    # dashboard's connect page does both (templates/admin/connections/connection/change_list.html).
    def has_add_permission(self, request):
        return False

    # Editing and deleting take the dashboard's manage permission too, so the admin is no way
    # around it for a user who was given Django's model permissions.
    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.has_manage_connection_permission(request)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.has_manage_connection_permission(request)

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

    @admin.action(description="Disconnect (revoke the token, stop syncing; data kept)",
                  permissions=["manage_connection"])
    def disconnect(self, request, queryset):
        # Already disconnected ones are left alone: a second call would only audit again.
        live = queryset.exclude(status=Connection.Status.DISCONNECTED).select_related("customer")
        if request.POST.get("post") != "yes":
            # A revoked token cannot be given back: ask first, as the stock bulk delete does.
            context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "Disconnect connections",
                       "connections": list(live), "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME}
            return TemplateResponse(request, "admin/connections/connection/disconnect_confirmation.html", context)
        self._change_status(request, live, lifecycle.connection_disconnect, verb="Disconnected")
        return None

    def _change_status(self, request, queryset, service, *, verb: str) -> None:
        actor, done, errors = admin_actor(request), 0, []
        for connection in queryset.select_related("customer"):
            try:
                was = connection.status
                done += service(connection=connection, actor=actor).status != was
            except CatalogError as exc:
                errors.append(error_text(connection, exc))
        report(self, request, done=done, verb=verb, errors=errors)

    @admin.display(description="Configuration")
    def config_display(self, obj):
        names = {spec.name for spec in config_specs(obj)}
        shown = sorted((name, value) for name, value in (obj.config or {}).items() if name in names)
        return ", ".join(f"{name}={json.dumps(value)}" for name, value in shown) or "(defaults)"

    @admin.display(description="Credentials")
    def credential_fields(self, obj):
        keys = sorted((obj.credentials or {}).keys())
        return ", ".join(f"{key}=••••••" for key in keys) or "(none)"


@admin.register(ConnectLink)
class ConnectLinkAdmin(ConnectionPermissions, ReadOnlyAdmin):
    """Links are made by the dashboard or the API, which show the URL once; here they are only
    read, and revoked through the service, which audits it (docs/connect-links.md)."""

    list_display = ["customer", "token_prefix", "state", "connectors", "expires_at", "used_at", "revoked_at",
                    "created_by", "created_at"]
    list_filter = [("used_at", admin.EmptyFieldListFilter), ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["customer__name", "customer__external_id", "token_prefix", "created_by"]
    list_select_related = ["customer"]
    exclude = ["token_hash"]
    actions = ["revoke"]

    @admin.display(description="State")
    def state(self, obj):
        return obj.state(timezone.now())

    @admin.action(description="Revoke", permissions=["manage_connection"])
    def revoke(self, request, queryset):
        actor, done = admin_actor(request), 0
        for link in queryset.filter(used_at__isnull=True, revoked_at__isnull=True):
            connect_links.connect_link_revoke(link=link, actor=actor)
            done += 1
        report(self, request, done=done, verb="Revoked", errors=[])
