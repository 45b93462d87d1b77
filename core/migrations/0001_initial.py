"""The audit log, admin keys and idempotency records move from the connections app to core.

Only Django's model state moves: the tables keep their names (db_table), so nothing is copied.
Content types (and so the permissions granted on them) are renamed rather than recreated, so a
group that could view the audit log still can.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ("auditevent", "apikey", "idempotencykey")


def content_types_move(apps, schema_editor, *, old: str, new: str):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=old, model__in=MOVED).update(app_label=new)


def forwards(apps, schema_editor):
    content_types_move(apps, schema_editor, old="connections", new="core")


def backwards(apps, schema_editor):
    content_types_move(apps, schema_editor, old="core", new="connections")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("connections", "0002_api_keys"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("actor", models.CharField(help_text="A username, a token prefix or 'system'.", max_length=200)),
                        ("source", models.CharField(choices=[("dashboard", "Dashboard"), ("api", "Api"), ("cli", "Cli"), ("admin", "Admin"), ("system", "System")], default="system", max_length=20)),
                        ("action", models.CharField(db_index=True, max_length=100)),
                        ("target_type", models.CharField(blank=True, max_length=50)),
                        ("target_id", models.CharField(blank=True, max_length=100)),
                        ("request_id", models.CharField(blank=True, max_length=100)),
                        ("details", models.JSONField(blank=True, default=dict)),
                        ("user", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                        ("connection", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="audit_events", to="connections.connection")),
                    ],
                    options={
                        "db_table": "connections_auditevent",
                        "ordering": ["-at", "-id"],
                        "indexes": [models.Index(fields=["connection", "-at"], name="audit_connection_at_idx")],
                    },
                ),
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(help_text="Who or what uses this key, e.g. 'billing backend'.", max_length=200)),
                        ("key_hash", models.CharField(editable=False, max_length=64, unique=True)),
                        ("key_prefix", models.CharField(editable=False, max_length=16)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("last_used_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                    ],
                    options={
                        "db_table": "connections_apikey",
                        "verbose_name": "API admin key",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="IdempotencyKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("scope", models.CharField(max_length=100)),
                        ("key", models.CharField(max_length=255)),
                        ("request_hash", models.CharField(max_length=64)),
                        ("response_status", models.PositiveSmallIntegerField()),
                        ("response_body", models.TextField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("expires_at", models.DateTimeField(db_index=True)),
                    ],
                    options={
                        "db_table": "connections_idempotencykey",
                        "constraints": [models.UniqueConstraint(fields=("scope", "key"), name="idempotency_scope_key_uniq")],
                    },
                ),
            ],
        ),
    ]
