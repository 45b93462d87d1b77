"""Indexes for the dashboard's record browser (docs/architecture.md, "The record browser").

- record_number_idx: the unified `number` of each record, per (connection, entity), so support
  finds "PO 4500000123" among a million records with one index probe. In byte order (COLLATE "C"),
  so "starts with q" is an index range, read in number order, whatever the database's collation.
- record_deleted_idx: the change feed's order, for deleted records only, so "only deleted" pages
  without reading the live ones. Partial: a sync that changes live records never writes to it.

On PostgreSQL CONCURRENTLY, so a large records table keeps taking writes meanwhile. SQLite gets
the same two, its number index on json_extract (bytewise already). Written as SQL, not in
Record.Meta, as syncs/0003 is: the number expression differs between the two databases.
"""

from django.db import migrations

DELETED = "ON syncs_record (connection_id, entity, change_seq, id) WHERE deleted_at IS NOT NULL"
INDEXES = {
    "postgresql": {"record_number_idx": "ON syncs_record (connection_id, entity, ((data ->> 'number') COLLATE \"C\"))",
                   "record_deleted_idx": DELETED},
    # The expression dashboard/selectors/records.py's _number_key() spells out on SQLite.
    "sqlite": {"record_number_idx": "ON syncs_record (connection_id, entity, json_extract(data, '$.number'))",
               "record_deleted_idx": DELETED},
}


def create(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, definition in INDEXES.get(schema_editor.connection.vendor, {}).items():
        schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} {definition}")


def drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in INDEXES.get(schema_editor.connection.vendor, {}):
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("syncs", "0012_incident_connection_level")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
