from django.urls import path

from dashboard.views import audit, connect, connection_actions, connections, failures, overview, records, runs, webhooks
from dashboard.views import connect_links as links

app_name = "dashboard"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("machinery", overview.overview_machinery, name="overview_machinery"),
    path("now", overview.overview_now, name="overview_now"),
    # Connections
    path("connections/", connections.connection_list, name="connections"),
    path("connections/pick", connections.connection_pick, name="connection_pick"),
    path("connections/<uuid:connection_id>/", connections.connection_detail, name="connection"),
    path("connections/<uuid:connection_id>/header", connections.connection_header, name="connection_header"),
    path("connections/<uuid:connection_id>/live", connections.connection_live, name="connection_live"),
    path("connections/<uuid:connection_id>/sync", connection_actions.connection_sync, name="connection_sync"),
    path("connections/<uuid:connection_id>/pause", connection_actions.connection_pause, name="connection_pause"),
    path("connections/<uuid:connection_id>/resume", connection_actions.connection_resume, name="connection_resume"),
    path("connections/<uuid:connection_id>/test", connection_actions.connection_test, name="connection_test"),
    path("connections/<uuid:connection_id>/rotate-token", connection_actions.connection_rotate_token,
         name="connection_rotate_token"),
    path("connections/<uuid:connection_id>/settings", connection_actions.connection_settings,
         name="connection_settings"),
    path("connections/<uuid:connection_id>/credentials", connection_actions.connection_credentials,
         name="connection_credentials"),
    path("connections/<uuid:connection_id>/disconnect", connection_actions.connection_disconnect,
         name="connection_disconnect"),
    # Record browser
    path("connections/<uuid:connection_id>/records/<slug:entity>", records.record_list, name="records"),
    path("connections/<uuid:connection_id>/records/<slug:entity>/<uuid:record_id>", records.record_detail,
         name="record"),
    # Connect a system
    path("connect/", connect.connector_pick, name="connect"),
    path("connect/<slug:key>/", connect.connect_form, name="connect_form"),
    path("connect/<slug:key>/test", connect.connect_test, name="connect_test"),
    path("connect-links/", links.link_list, name="connect_links"),
    path("connect-links/new", links.link_create, name="connect_link_create"),
    path("connect-links/<uuid:link_id>/revoke", links.link_revoke, name="connect_link_revoke"),
    path("connections/<uuid:connection_id>/connected", connect.connect_done, name="connect_done"),
    # Sync runs
    path("runs/", runs.run_list, name="runs"),
    path("runs/<uuid:run_id>/", runs.run_detail, name="run"),
    path("runs/<uuid:run_id>/cancel", connection_actions.run_cancel, name="run_cancel"),
    path("runs/<uuid:run_id>/retry", runs.run_retry, name="run_retry"),
    # Failures
    path("failures/", failures.failures, name="failures"),
    path("failures/acknowledge", failures.group_acknowledge, name="failures_acknowledge"),
    path("failures/resolve", failures.group_resolve, name="failures_resolve"),
    path("incidents/<int:incident_id>/acknowledge", failures.incident_acknowledge, name="incident_acknowledge"),
    path("incidents/<int:incident_id>/resolve", failures.incident_resolve, name="incident_resolve"),
    # Audit log
    path("audit/", audit.audit_log, name="audit"),
    # Webhooks
    path("webhooks/", webhooks.endpoint_list, name="webhooks"),
    path("webhooks/new", webhooks.endpoint_create, name="webhook_create"),
    path("webhooks/<int:endpoint_id>/", webhooks.endpoint_detail, name="webhook"),
    path("webhooks/<int:endpoint_id>/edit", webhooks.endpoint_edit, name="webhook_edit"),
    path("webhooks/<int:endpoint_id>/delete", webhooks.endpoint_delete, name="webhook_delete"),
    path("webhooks/<int:endpoint_id>/test", webhooks.endpoint_test, name="webhook_test"),
    path("webhooks/<int:endpoint_id>/rotate-secret", webhooks.endpoint_rotate_secret, name="webhook_rotate_secret"),
    path("webhooks/<int:endpoint_id>/enable", webhooks.endpoint_enable, name="webhook_enable"),
    path("webhooks/<int:endpoint_id>/disable", webhooks.endpoint_disable, name="webhook_disable"),
    path("webhooks/<int:endpoint_id>/replay", webhooks.endpoint_replay, name="webhook_replay"),
    path("webhooks/deliveries/<int:delivery_id>/", webhooks.delivery_detail, name="delivery"),
    path("webhooks/deliveries/<int:delivery_id>/resend", webhooks.delivery_resend, name="delivery_resend"),
]
