import uuid

import factory
from django.utils import timezone

from webhooks.models import Attempt, Delivery, Endpoint, Event
from webhooks.signing import secret_generate


class EndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Endpoint

    url = factory.Sequence(lambda n: f"https://hooks{n}.example.com/plantsync")
    description = "Test endpoint"
    secret = factory.LazyFunction(secret_generate)
    event_types = factory.LazyFunction(list)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    id = factory.LazyFunction(uuid.uuid4)
    type = "sync.completed"
    connection = None
    created_at = factory.LazyFunction(timezone.now)
    payload = factory.LazyAttribute(lambda o: {
        "id": str(o.id), "type": o.type, "created_at": o.created_at.isoformat(),
        "connection_id": str(o.connection.pk) if o.connection else None, "data": {}})


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    event = factory.SubFactory(EventFactory)
    endpoint = factory.SubFactory(EndpointFactory)
    next_attempt_at = factory.LazyFunction(timezone.now)
    queued_for = factory.LazyFunction(timezone.now)


class AttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attempt

    delivery = factory.SubFactory(DeliveryFactory)
    number = 1
    at = factory.LazyFunction(timezone.now)
    status_code = 500
    duration_ms = 12
    error = "HTTP 500: not a 2xx answer."
    response_snippet = "oops"
