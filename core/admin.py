"""Admin of the shared models: the audit log (read only) and API admin keys (create one, shown
once; see when keys were used; revoke). Also what every app's admin shares.
"""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from core.api_keys import api_key_create, api_key_revoke
from core.audit import admin_actor
from core.errors import CatalogError
from core.models import ApiKey, AuditEvent


def report(modeladmin, request, *, done: int, verb: str, errors: list[str]) -> None:
    """One summary message, plus one per catalogued error (code and what to do)."""
    if done:
        modeladmin.message_user(request, f"{verb}: {done}.", messages.SUCCESS)
    for error in errors[:10]:
        modeladmin.message_user(request, error, messages.ERROR)
    if len(errors) > 10:
        modeladmin.message_user(request, f"... and {len(errors) - 10} more errors.", messages.ERROR)


def error_text(subject, exc: CatalogError) -> str:
    hint = exc.spec.action
    return f"{subject}: {exc.code}: {exc.message}" + (f" ({hint})" if hint else "")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never written here: the rows are written by services that validate and audit, and
    a form edit would skip both."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):  # the trail is only worth something if no one can prune it
    list_display = ["at", "actor", "source", "action", "target_type", "target_id", "request_id"]
    list_filter = ["source", "action"]
    search_fields = ["actor", "action", "target_id", "request_id"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    date_hierarchy = "at"


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "key_prefix"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_keys"]

    def get_readonly_fields(self, request, obj=None):
        # The name is set once, at creation; a key's identity does not change afterwards.
        return ["name", *self.readonly_fields] if obj is not None else []

    def get_fields(self, request, obj=None):
        return ["name", *self.readonly_fields] if obj is not None else ["name"]

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row stays for the audit trail

    def save_model(self, request, obj, form, change):
        if change:
            return
        api_key, key = api_key_create(name=form.cleaned_data["name"], actor=admin_actor(request))
        obj.pk = api_key.pk
        obj.key_prefix, obj.created_at = api_key.key_prefix, api_key.created_at
        obj.clear_key = key  # for response_add only; never stored

    def response_add(self, request, obj, post_url_continue=None):
        """The new key, once, on a page no cache keeps. Not through `messages`: its cookie is
        signed but readable, and outlives the page."""
        context = {**self.admin_site.each_context(request), "opts": self.opts, "api_key": obj,
                   "clear_key": obj.clear_key, "title": "Admin key created"}
        response = TemplateResponse(request, "admin/core/apikey/key_created.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key, actor=admin_actor(request))
            revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).")
