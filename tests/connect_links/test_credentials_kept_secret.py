"""A credential typed on the page goes into the encrypted field and nowhere else: not in a log
line, an audit event, a webhook event or any answer of the page."""

import logging

import pytest

from connections.models import Connection
from core.models import AuditEvent
from tests.connect_links.factories import SECRET, make_link, page_path, sandbox_fields
from tests.webhooks.factories import EndpointFactory
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def test_it_never_logs_audits_or_echoes_the_credentials(client, caplog):
    EndpointFactory()
    _, token = make_link()
    caplog.set_level(logging.DEBUG)
    answers = [
        client.get(page_path(token)),
        client.post(page_path(token, "test"), sandbox_fields(faults='{"auth_failure": true}')),
        client.post(page_path(token, "test"), sandbox_fields(faults='{"auth_failure": true}'),
                    headers={"HX-Request": "true"}),
        client.post(page_path(token, "test"), sandbox_fields(page_size="0")),
        client.post(page_path(token, "test"), sandbox_fields(), headers={"HX-Request": "true"}),
        client.post(page_path(token, "test"), sandbox_fields()),
        client.post(page_path(token, "connect"), sandbox_fields(faults='{"auth_failure": true}')),
        client.post(page_path(token, "connect"), sandbox_fields(page_size="0")),
        client.post(page_path(token, "connect"), sandbox_fields(), follow=True),
    ]
    assert Connection.objects.get().credentials == {"api_key": SECRET}  # it was used: connected with it
    assert caplog.records, "the requests were logged at all"
    assert SECRET not in caplog.text
    for answer in answers:
        assert SECRET not in answer.content.decode() and SECRET not in str(answer.headers)
    assert AuditEvent.objects.filter(action__startswith="connect_link.").count() >= 8
    assert all(SECRET not in str(event.details) for event in AuditEvent.objects.all())
    assert Event.objects.filter(type="connection.created").exists()
    assert all(SECRET not in str(event.payload) for event in Event.objects.all())
