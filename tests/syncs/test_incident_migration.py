"""Migration 0012: per-entity incidents of a connection-level cause, opened before it, merge into one."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from syncs.models import Incident
from tests.syncs.factories import bare_connection

pytestmark = pytest.mark.django_db

migration = importlib.import_module("syncs.migrations.0012_incident_connection_level")


def old_incident(connection, entity, *, code="UPSTREAM_AUTHENTICATION_FAILED", status="open", hours_ago=1, n=2):
    at = timezone.now() - timedelta(hours=hours_ago)
    return Incident.objects.create(connection=connection, entity=entity, error_code=code, status=status,
                                   first_seen=at, last_seen=at, occurrences=n, message=f"{entity} {hours_ago}")


def test_it_merges_the_per_entity_incidents_of_a_connection_level_cause():
    conn = bare_connection()
    old_incident(conn, "vendors", status="acknowledged", hours_ago=3)
    old_incident(conn, "assets", hours_ago=1)
    own = old_incident(conn, "assets", code="UPSTREAM_SERVER_ERROR")
    migration.merge_connection_level(apps, None)
    merged = Incident.objects.get(connection=conn, error_code="UPSTREAM_AUTHENTICATION_FAILED",
                                  status__in=Incident.UNRESOLVED)
    assert (merged.entity, merged.entities, merged.occurrences, merged.status) == ("", ["assets", "vendors"], 4, "open")
    assert merged.message == "assets 1", "the latest failure's message"
    assert Incident.objects.filter(error_code="UPSTREAM_AUTHENTICATION_FAILED", status="resolved").count() == 1
    own.refresh_from_db()
    assert (own.entity, own.status) == ("assets", "open"), "an entity's own failure stays as it was"
