from django.db import migrations, models
from django.utils import timezone

# The connection-level codes as they were when this migration was written (syncs/incidents.py
# CONNECTION_LEVEL_CODES may grow; a migration must not change meaning with it).
CONNECTION_LEVEL_CODES = ("UPSTREAM_AUTHENTICATION_FAILED", "UPSTREAM_UNREACHABLE", "UPSTREAM_ADDRESS_REFUSED")


def merge_connection_level(apps, schema_editor):
    """One unresolved incident per connection and connection-level code: the per-entity ones
    opened before are folded into one with entity "", and the rest marked resolved."""
    Incident = apps.get_model("syncs", "Incident")
    unresolved = Incident.objects.filter(error_code__in=CONNECTION_LEVEL_CODES, status__in=["open", "acknowledged"])
    groups = {}
    for incident in unresolved.order_by("entity", "first_seen"):
        groups.setdefault((incident.connection_id, incident.error_code), []).append(incident)
    now = timezone.now()
    for members in groups.values():
        keep, rest = members[0], members[1:]  # entity "" sorts first: an incident already connection-wide
        latest = max(members, key=lambda i: i.last_seen)
        keep.entities = sorted({i.entity for i in members if i.entity} | set(keep.entities or []))
        keep.entity, keep.occurrences = "", sum(i.occurrences for i in members)
        keep.first_seen, keep.last_seen = min(i.first_seen for i in members), latest.last_seen
        keep.last_run_id, keep.message = latest.last_run_id, latest.message
        keep.status = "open" if any(i.status == "open" for i in members) else "acknowledged"
        Incident.objects.filter(pk__in=[i.pk for i in rest]).update(status="resolved", resolved_at=now)
        keep.save()


class Migration(migrations.Migration):

    dependencies = [
        ('syncs', '0011_run_preempted_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='incident',
            name='entities',
            field=models.JSONField(blank=True, db_default=[], default=list),
        ),
        migrations.RunPython(merge_connection_level, migrations.RunPython.noop),
    ]
