"""Indexes for the dashboard's record browser (docs/architecture.md, "The record browser").

- record_number_idx: the unified `number` of each record, per (connection, entity), so support
  finds "PO 4500000123" among a million records with one index probe. In byte order (COLLATE "C"),
  so "starts with q" is an index range, read in number order, whatever the database's collation.
- record_deleted_idx: the change feed's order, for deleted records only, so "only deleted" pages
  without reading the live ones. Partial: a sync that changes live records never writes to it.

PostgreSQL only, and CONCURRENTLY, so a large records table keeps taking writes meanwhile. SQLite
(the embedded mode, small installs) searches the same way without them. Written as SQL, not in
Record.Meta, as syncs/0003 is: SQLite has no collation "C", so Meta could not declare the first.
"""

from django.db import migrations

INDEXES = {
    "record_number_idx": "ON syncs_record (connection_id, entity, ((data ->> 'number') COLLATE \"C\"))",
    "record_deleted_idx": "ON syncs_record (connection_id, entity, change_seq, id) WHERE deleted_at IS NOT NULL",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("syncs", "0011_run_preempted_index")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
