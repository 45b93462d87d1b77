"""Fills the run rollups (0014) from the runs already kept, so the charts of an upgraded install
show its history at once rather than starting empty (docs/architecture.md, "Charts and rollups").
The workers of the new code add to the rollups as runs finish; start them after this migration."""

from django.db import migrations

from syncs.rollups import rollups_rebuild


def backfill(apps, schema_editor):
    models_ = tuple(apps.get_model("syncs", name) for name in ("SyncRun", "RunHourlyRollup", "RunHourlyTotal"))
    rollups_rebuild(models_=models_)


class Migration(migrations.Migration):
    dependencies = [("syncs", "0014_run_hourly_rollups")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
