"""core/retention.py: audit rows older than RETENTION_AUDIT_DAYS go; younger ones stay."""

import pytest

from core.models import AuditEvent
from core.retention import Budget, audit_prune
from tests.retention.factories import audit_made

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fixed_now")]


def test_it_prunes_audit_rows_past_the_limit_and_keeps_younger_ones():
    old = [audit_made(days=d) for d in (366, 400, 1000)]
    young = [audit_made(days=d) for d in (364, 30)]

    report = audit_prune(dry_run=False, batch_size=2, budget=Budget(60))

    assert (report.deleted, report.done) == (3, True)
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == {e.pk for e in young}
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()


def test_it_reads_the_limit_from_the_settings(settings):
    settings.RETENTION_AUDIT_DAYS = 7
    audit_made(days=8)
    kept = audit_made(days=6)

    assert audit_prune(dry_run=True, batch_size=10, budget=Budget(60)).deleted == 1
    assert audit_prune(dry_run=False, batch_size=10, budget=Budget(60)).deleted == 1
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [kept.pk]
