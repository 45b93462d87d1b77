from contextlib import contextmanager
from unittest import mock

import factory

from connections.connectors.sandbox import SandboxConnector
from connections.models import Connection, Customer


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection

    customer = factory.SubFactory(CustomerFactory)
    connector = "sandbox"
    name = factory.Sequence(lambda n: f"Connection {n}")
    status = Connection.Status.ACTIVE
    config = factory.LazyFunction(lambda: {"seed": 7, "records": 20})
    credentials = factory.LazyFunction(lambda: {"api_key": "secret"})


@contextmanager
def sandbox_checks_counted():
    """Counts calls to the sandbox connector's credential check; the real check still runs."""
    calls = []
    original = SandboxConnector.check

    def check(self):
        calls.append(self)
        return original(self)

    with mock.patch.object(SandboxConnector, "check", check):
        yield calls
