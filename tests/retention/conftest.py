"""The webhook fixtures (receiver, settings, eager Celery) and the API's admin client, for the
retention tests that delete endpoints through every path."""

from tests.api.conftest import admin, admin_key  # noqa: F401
from tests.webhooks.conftest import (  # noqa: F401
    ca_bundle,
    celery_eager,
    receiver,
    receiver_factory,
    tls_ca,
    webhook_settings,
)
