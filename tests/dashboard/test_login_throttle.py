"""Failed logins are throttled per account and per client address, on /login/ and /admin/login/."""

import logging

import pytest
from django.urls import reverse

from core.models import AuditEvent

pytestmark = pytest.mark.django_db

LOGIN = "/login/"
ADMIN_LOGIN = "/admin/login/"
LIMIT = 5  # config/settings/base.py: AXES_FAILURE_LIMIT


@pytest.fixture
def ops(django_user_model):
    return django_user_model.objects.create_user("ops", "ops@example.com", "right-password", is_staff=True)


def _login(client, username, password, *, url=LOGIN, ip="10.0.0.1", **extra):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def _fail(client, username, times, **kwargs):
    return [_login(client, username, "wrong-password", **kwargs).status_code for _ in range(times)]


def test_it_refuses_the_right_password_after_five_wrong(client, ops):
    assert _fail(client, "ops", LIMIT - 1) == [200] * (LIMIT - 1)
    assert _fail(client, "ops", 1) == [429]
    response = _login(client, "ops", "right-password")
    assert response.status_code == 429
    assert "Too many failed logins; try again in 15 minutes." in response.content.decode()
    assert response["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session


def test_it_still_logs_in_after_fewer_failures(client, ops):
    _fail(client, "ops", LIMIT - 1)
    assert _login(client, "ops", "right-password").status_code == 302


def test_it_locks_an_account_across_addresses(client, ops):
    for i in range(LIMIT):
        _fail(client, "ops", 1, ip=f"10.0.1.{i}")
    assert _login(client, "ops", "right-password", ip="10.0.2.1").status_code == 429


def test_it_answers_an_unknown_account_exactly_like_a_known_one(client, ops):
    _fail(client, "ops", LIMIT, ip="10.0.0.1")
    _fail(client, "nobody", LIMIT, ip="10.0.0.2")
    known = _login(client, "ops", "wrong-password", ip="10.0.0.1")
    unknown = _login(client, "nobody", "wrong-password", ip="10.0.0.2")
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.status_code == 429


def test_it_locks_an_address_across_usernames(client, ops):
    for i in range(LIMIT):
        _fail(client, f"guess{i}", 1, ip="10.0.0.9")
    assert _login(client, "ops", "right-password", ip="10.0.0.9").status_code == 429
    # Another address still logs in: the account itself has no failures.
    assert _login(client, "ops", "right-password", ip="10.0.0.10").status_code == 302


def test_it_locks_the_admin_login_too(client, ops):
    assert _fail(client, "ops", LIMIT - 1, url=ADMIN_LOGIN) == [200] * (LIMIT - 1)
    assert _fail(client, "ops", 1, url=ADMIN_LOGIN) == [429]
    assert _login(client, "ops", "right-password", url=ADMIN_LOGIN).status_code == 429
    # The count is shared with the dashboard's login page.
    assert _login(client, "ops", "right-password").status_code == 429


def test_it_counts_admin_and_dashboard_failures_together(client, ops):
    _fail(client, "ops", 3, url=ADMIN_LOGIN)
    _fail(client, "ops", 2)
    assert _login(client, "ops", "right-password").status_code == 429


def test_it_logs_and_audits_the_lockout_once(client, ops, caplog):
    with caplog.at_level(logging.WARNING, logger="security"):
        _fail(client, "ops", LIMIT + 3, ip="10.0.0.7")
    events = list(AuditEvent.objects.filter(action="login.locked_out"))
    assert len(events) == 1
    assert events[0].actor == "ops"
    assert events[0].source == AuditEvent.Source.DASHBOARD
    assert events[0].details["ip"] == "10.0.0.7"
    security = [r for r in caplog.records if r.name == "security"]
    assert len(security) == 1 and security[0].levelno == logging.WARNING
    assert "'ops'" in security[0].getMessage() and "10.0.0.7" in security[0].getMessage()
    assert "wrong-password" not in caplog.text


def test_it_marks_an_admin_lockout_as_admin(client, ops):
    _fail(client, "ops", LIMIT, url=ADMIN_LOGIN)
    assert AuditEvent.objects.get(action="login.locked_out").source == AuditEvent.Source.ADMIN


def test_it_lists_the_lockout_in_the_dashboard_audit_log(client, ops, viewer_client):
    _fail(client, "mallory", LIMIT, ip="10.0.0.8")
    page = viewer_client.get(reverse("dashboard:audit"), {"action": "login.locked_out"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "login.locked_out" in body and "mallory" in body and "10.0.0.8" in body


def test_it_ignores_forwarded_for_without_a_trusted_proxy(client, ops):
    for i in range(LIMIT):
        _fail(client, "guess", 1, ip="10.0.0.3", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
    assert _login(client, "ops", "right-password", ip="10.0.0.3").status_code == 429


def test_it_reads_the_client_behind_a_trusted_proxy(client, ops, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for i in range(LIMIT):
        _fail(client, f"guess{i}", 1, ip="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.7")
    # The proxy's own address is not what was locked, the client it forwarded is.
    assert _login(client, "ops", "right-password", ip="10.9.9.9",
                  HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 302
    assert _login(client, "ops", "right-password", ip="10.9.9.9",
                  HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
