"""Admin for support staff: read what was sent and why it failed; act only through the services.

Secrets are never shown. Endpoints are created where the secret can be shown once (the
`webhook_endpoint_create` command, the API, the dashboard), not here.
"""

from django.contrib import admin, messages
from django.db.models import Count

from core.admin import ReadOnlyAdmin
from core.audit import admin_actor
from core.errors import CatalogError
from webhooks import services
from webhooks.models import Attempt, Delivery, Endpoint, Event
from webhooks.signing import secret_mask


class _WebhookPermissions:
    """Acting on endpoints and deliveries takes the dashboard's webhook permission, not just view."""

    def has_manage_webhooks_permission(self, request):
        return request.user.has_perm("webhooks.change_endpoint")


@admin.register(Endpoint)
class EndpointAdmin(_WebhookPermissions, admin.ModelAdmin):
    list_display = ["url", "description", "connection", "enabled", "event_types_display", "delivery_count",
                    "last_success_at", "failing_since", "disabled_reason", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "description", "connection__name"]
    list_select_related = ["connection__customer"]
    exclude = ["secret", "previous_secret"]
    fields = ["url", "description", "connection", "event_types", "secret_display", "enabled", "disabled_at",
              "disabled_reason", "failing_since", "last_success_at", "created_at", "updated_at"]
    # Changes that need checks (URL policy, event types) go through the services elsewhere.
    readonly_fields = ["url", "connection", "event_types", "secret_display", "enabled", "disabled_at",
                       "disabled_reason", "failing_since", "last_success_at", "created_at", "updated_at"]
    actions = ["enable_endpoints", "disable_endpoints", "send_test_events"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("secret", "previous_secret").annotate(
            _deliveries=Count("deliveries"))

    def has_add_permission(self, request):
        return False

    @admin.display(description="Event types")
    def event_types_display(self, obj):
        return ", ".join(obj.event_types) or "all"

    @admin.display(description="Deliveries", ordering="_deliveries")
    def delivery_count(self, obj):
        return getattr(obj, "_deliveries", None)

    @admin.display(description="Signing secret")
    def secret_display(self, obj):
        text = secret_mask("set")
        if obj.previous_secret_expires_at:
            text += f" (previous secret also valid until {obj.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC)"
        return text

    def save_model(self, request, obj, form, change):
        if "description" in form.changed_data:
            services.endpoint_update(endpoint=Endpoint.objects.get(pk=obj.pk), actor=admin_actor(request),
                                     description=obj.description)

    def get_deleted_objects(self, objs, request):
        # The stock confirmation loads every delivery and attempt that would cascade, in the
        # request; the service deletes those in the background, so the page names the endpoints.
        objs = list(objs)
        perms_needed = set() if self.has_delete_permission(request) else {"webhook endpoint"}
        return [str(obj) for obj in objs], {"webhook endpoints": len(objs)}, perms_needed, []

    def delete_model(self, request, obj):
        services.endpoint_delete(endpoint=obj, actor=admin_actor(request))

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_delete(endpoint=endpoint, actor=admin_actor(request))

    @admin.action(description="Enable the selected endpoints", permissions=["manage_webhooks"])
    def enable_endpoints(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_enable(endpoint=endpoint, actor=admin_actor(request))
        self.message_user(request, f"{queryset.count()} endpoint(s) enabled.", messages.SUCCESS)

    @admin.action(description="Disable the selected endpoints", permissions=["manage_webhooks"])
    def disable_endpoints(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_disable(endpoint=endpoint, actor=admin_actor(request))
        self.message_user(request, f"{queryset.count()} endpoint(s) disabled.", messages.SUCCESS)

    @admin.action(description="Send a test event to the selected endpoints", permissions=["manage_webhooks"])
    def send_test_events(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_send_test(endpoint=endpoint, actor=admin_actor(request))
        self.message_user(request, f"Test event queued for {queryset.count()} endpoint(s).", messages.SUCCESS)


# Events, deliveries and attempts are the record of what receivers were sent and answered: the
# outbox and the sweeper write them, retention prunes them (webhooks/retention.py); an edit or a
# delete here would falsify that record or lose a delivery still due. Resend is the one action.
@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "connection", "created_at"]
    list_filter = ["type"]
    search_fields = ["=id", "connection__name"]
    list_select_related = ["connection__customer"]
    date_hierarchy = "created_at"
    show_full_result_count = False


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ["number", "at", "status_code", "duration_ms", "remote_address", "error", "response_snippet"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(_WebhookPermissions, ReadOnlyAdmin):
    list_display = ["id", "event_type", "endpoint", "status", "attempts", "next_attempt_at", "last_status_code",
                    "last_error_short", "created_at", "delivered_at"]
    list_filter = ["status", "event__type"]
    search_fields = ["=event__id", "endpoint__url"]
    list_select_related = ["event", "endpoint"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [AttemptInline]
    actions = ["resend_deliveries"]

    def get_queryset(self, request):
        # A deleted endpoint's deliveries are on their way out (webhooks/retention.py).
        return (super().get_queryset(request).filter(endpoint__deleted_at__isnull=True)
                .defer("endpoint__secret", "endpoint__previous_secret"))

    @admin.display(description="Event", ordering="event__type")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description="Last error")
    def last_error_short(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.action(description="Resend the selected deliveries now", permissions=["manage_webhooks"])
    def resend_deliveries(self, request, queryset):
        sent = 0
        for delivery in queryset.select_related("endpoint", "event"):
            try:
                services.delivery_resend(delivery=delivery, actor=admin_actor(request))
                sent += 1
            except CatalogError as exc:
                self.message_user(request, f"Delivery {delivery.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{sent} delivery(ies) queued again.", messages.SUCCESS)


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    list_display = ["id", "delivery", "number", "at", "status_code", "duration_ms", "remote_address", "error"]
    list_filter = ["status_code"]
    search_fields = ["=delivery__event__id", "delivery__endpoint__url"]
    list_select_related = ["delivery"]
    date_hierarchy = "at"
    show_full_result_count = False
