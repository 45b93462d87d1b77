import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from connections.models import Connection, Customer
from syncs.models import SyncRun

pytestmark = pytest.mark.django_db


def counts():
    return (get_user_model().objects.count(), Customer.objects.count(), Connection.objects.count(),
            SyncRun.objects.count())


def test_it_creates_nothing_twice(monkeypatch, capsys):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("demo")
    first = counts()
    call_command("demo")
    assert counts() == first
    assert first[0] == 1 and first[1] >= 3 and first[2] >= 3
    assert first[3] == first[2] * 6, "an initial full sync of every entity of every connection"
    assert set(Connection.objects.values_list("connector", flat=True)) == {"sandbox"}
    assert Connection.objects.filter(config__faults__auth_failure=True).exists(), "one with bad credentials"
    assert "demo-pass-123" in capsys.readouterr().out
    assert get_user_model().objects.get(username="admin").check_password("demo-pass-123")


def test_it_generates_and_prints_a_password_when_none_is_given(monkeypatch, capsys, settings, tmp_path):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    settings.VAR_DIR = tmp_path
    call_command("demo")
    password = (tmp_path / "demo-password.txt").read_text().strip()
    assert password in capsys.readouterr().out
    assert get_user_model().objects.get(username="admin").check_password(password)
