import io
import re

import pytest
from django.core.management import CommandError, call_command

from webhooks.models import Delivery, Endpoint, Event

# The bench's delivery processes and OpenSSL keep the real clock, and its certificates are made now.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_clock]


def test_it_delivers_every_event_and_compares_with_bare_httpx_then_cleans_up():
    out = io.StringIO()

    call_command("bench_webhooks", "--events", "30", "--processes", "1", stdout=out)

    output = out.getvalue()
    assert "delivered: 30/30 (not succeeded: 0)" in output
    assert "services.deliveries_attempt (the webhooks task)" in output
    assert "1 delivery worker processes x 1 thread(s)" in output  # what ours runs at once is said
    throughput = float(re.search(r"throughput: ([\d.]+) deliveries/s", output).group(1))
    loop = re.search(r"bare httpx loop \(1 client, sequential, same bodies, same receiver\): ([\d.]+) posts/s "
                     r"\(mean of ([\d.]+) just before and ([\d.]+) just after\) -> ratio ([\d.]+)", output)
    mean, before, after, ratio = (float(v) for v in loop.groups())
    assert throughput > 0 and before > 0 and after > 0
    assert mean == pytest.approx((before + after) / 2, abs=0.11)
    assert ratio == pytest.approx(throughput / mean, abs=0.01)
    first, p50, p99 = (float(v) for v in re.search(r"first ([\d.]+) ms, p50 ([\d.]+) ms, p99 ([\d.]+) ms",
                                                    output).groups())
    assert 0 <= first <= p50 <= p99
    assert not Endpoint.all_objects.exists() and not Event.objects.exists() and not Delivery.objects.exists()


def test_it_measures_latency_from_event_creation_at_a_steady_rate():
    out = io.StringIO()

    call_command("bench_webhooks", "--events", "10", "--rate", "20", "--processes", "1", stdout=out)

    output = out.getvalue()
    assert "delivered: 10/10" in output and "latency event creation -> receipt" in output
    p99 = float(re.search(r"p99 ([\d.]+) ms", output).group(1))
    assert p99 < 10_000  # a generous bound: it is reported, not judged, here


def test_it_refuses_unbounded_runs():
    with pytest.raises(CommandError, match="--events must be between"):
        call_command("bench_webhooks", "--events", "10000000")
