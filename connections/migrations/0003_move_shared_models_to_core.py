"""AuditEvent, ApiKey and IdempotencyKey now belong to the core app (core/migrations/0001_initial.py
took over their tables); this removes them from the connections app's state only."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0002_api_keys"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="AuditEvent"),
                migrations.DeleteModel(name="ApiKey"),
                migrations.DeleteModel(name="IdempotencyKey"),
            ],
        ),
    ]
