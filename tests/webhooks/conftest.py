import pytest
import trustme

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
def receiver(tls_ca):
    """An HTTPS receiver on 127.0.0.1 with a certificate for "localhost" from the test CA."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("localhost").configure_cert(context)
    server = Receiver(server_context=context)
    yield server
    server.stop()


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
    """No allow-list (production); the CA is still trusted so only the address policy can refuse."""
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_CA_BUNDLE = ca_bundle
    transport.transports_reset()
    yield settings
    transport.transports_reset()
