import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db

from connections.models import Connection
from tests.connections.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def stored_token(conn_id):
    with db.cursor() as cursor:
        key = conn_id.hex if db.vendor == "sqlite" else conn_id
        cursor.execute("SELECT credentials FROM connections_connection WHERE id = %s", [key])
        return cursor.fetchone()[0]


def test_it_round_trips_credentials_without_storing_them_in_clear():
    conn = ConnectionFactory(credentials={"api_key": "s3cret-value", "nested": {"a": 1}})
    assert "s3cret" not in stored_token(conn.id)
    assert Connection.objects.get(pk=conn.pk).credentials == {"api_key": "s3cret-value", "nested": {"a": 1}}


def test_it_reads_old_values_after_a_key_rotation_and_reencrypts_them(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    conn = ConnectionFactory(credentials={"password": "hunter2"})
    before = stored_token(conn.id)
    assert Fernet(old_key.encode()).decrypt(before.encode())

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert Connection.objects.get(pk=conn.pk).credentials == {"password": "hunter2"}

    call_command("rotate_encryption")
    after = stored_token(conn.id)
    assert after != before
    assert Fernet(new_key.encode()).decrypt(after.encode()) == b'{"password":"hunter2"}'

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert Connection.objects.get(pk=conn.pk).credentials == {"password": "hunter2"}
