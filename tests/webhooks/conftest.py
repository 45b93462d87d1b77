import socket
import ssl
from datetime import timedelta

import pytest
import trustme
from django.utils import timezone

from tests.webhooks.receiver import Receiver
from webhooks import transport


@pytest.fixture(scope="session")
def tls_ca():
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(tls_ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("webhook-ca") / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def receiver_factory(tls_ca):
    """Starts HTTPS receivers on 127.0.0.1 with a certificate for "localhost" from the test CA."""
    started = []

    def start(port: int = 0) -> Receiver:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_ca.issue_cert("localhost").configure_cert(context)
        server = Receiver(server_context=context, port=port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def receiver(receiver_factory):
    return receiver_factory()


@pytest.fixture
def webhook_settings(settings, ca_bundle):
    """Loopback allow-listed and the test CA trusted: what dev and test settings may do."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_CA_BUNDLE = ca_bundle
    settings.WEBHOOK_RETRY_SCHEDULE = [30, 120, 600]
    settings.WEBHOOK_TIMEOUT_SECONDS = 5.0
    transport.transports_reset()
    yield settings
    transport.transports_reset()


@pytest.fixture
def production_settings(settings, ca_bundle):
    """No allow-list, as in production; the CA stays trusted so only the address policy can refuse."""
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_CA_BUNDLE = ca_bundle
    settings.WEBHOOK_TIMEOUT_SECONDS = 5.0
    transport.transports_reset()
    yield settings
    transport.transports_reset()


class Clock:
    """Shifts django.utils.timezone.now, so retry waits pass without sleeping."""

    def __init__(self, real_now):
        self._real_now = real_now
        self.offset = timedelta()

    def now(self):
        return self._real_now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(timezone.now)
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


@pytest.fixture
def celery_eager():
    """Tasks run inline when enqueued (the on_commit callbacks still decide when that is)."""
    from config.celery import app

    saved = {name: app.conf[name] for name in ("task_always_eager", "task_eager_propagates")}
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield app
    app.conf.update(saved)


class ConnectSpy:
    def __init__(self):
        self.calls: list = []

    def addresses(self) -> list[str]:
        return [address[0] for address in self.calls]


@pytest.fixture
def connect_spy(monkeypatch):
    """Records every socket connect; anything but loopback is refused here, so no test can
    send traffic to a real private or metadata address even if the code under test tried."""
    spy = ConnectSpy()
    real_connect = socket.socket.connect

    def connect(sock, address):
        spy.calls.append(address)
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1"):
            raise ConnectionRefusedError(f"test guard: no traffic to {address[0]}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return spy


class FakeDNS:
    def __init__(self, real):
        self._real = real
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def set(self, host: str, *answers: list[str]) -> None:
        """Successive lookups of `host` get these answers in turn; the last one repeats."""
        self.answers[host] = list(answers)

    def getaddrinfo(self, host, port, *args, **kwargs):
        if host not in self.answers:
            return self._real(host, port, *args, **kwargs)
        self.lookups.append(host)
        queue = self.answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                 (a, port, 0, 0) if ":" in a else (a, port)) for a in addresses]


@pytest.fixture
def fake_dns(monkeypatch):
    dns = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    return dns
