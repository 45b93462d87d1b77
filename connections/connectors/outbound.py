"""Where a connector may connect (docs/architecture.md, "The upstream toolkit": outbound policy).

Connectors reach customers' own systems, which for a self-hosted deployment often sit on a
private network, so private and loopback addresses are allowed (unlike webhooks). Refused, unless
inside UPSTREAM_ALLOWED_NETWORKS: link-local addresses (169.254.0.0/16, fe80::/10), the cloud
metadata addresses, multicast and unspecified addresses, IPv6 addresses embedding a refused IPv4
one, and anything inside UPSTREAM_BLOCKED_NETWORKS.

The check runs on every address the host resolves to, at connect time, inside the client's
network backend: the socket connects to a checked address and never resolves the name again, so
a DNS answer that changes between check and connect cannot reach a refused address. TLS still
uses the hostname for SNI and the certificate check.
"""

import socket

import httpcore
from django.conf import settings

from core.netpolicy import METADATA_ADDRESSES, IPAddress, address_normalize, embedded_ipv4, in_networks, networks_parse


class AddressRefused(Exception):
    """The host's addresses are refused by the outbound policy; nothing was sent."""


def address_refusal(address: IPAddress) -> str | None:
    """Why the policy refuses this address, or None."""
    if in_networks(address, networks_parse(tuple(settings.UPSTREAM_ALLOWED_NETWORKS or ()))):
        return None
    if in_networks(address, networks_parse(tuple(settings.UPSTREAM_BLOCKED_NETWORKS or ()))):
        return "inside UPSTREAM_BLOCKED_NETWORKS"
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for test, name in (("is_link_local", "a link-local address"), ("is_multicast", "a multicast address"),
                       ("is_unspecified", "an unspecified address")):
        if getattr(address, test):
            return name
    if (inner := embedded_ipv4(address)) is not None and (reason := address_refusal(inner)):
        return f"an IPv6 address embedding {inner}, {reason}"
    return None


def addresses_permitted(host: str, port: int) -> list[str]:
    """The host's addresses the policy allows, in resolver order; AddressRefused when none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"{host} could not be resolved ({exc.strerror})") from exc
    permitted, refusals = [], []
    for info in infos:
        address = address_normalize(info[4][0])
        reason = address_refusal(address)
        if reason:
            refusals.append(f"{address} is {reason}")
        elif str(address) not in permitted:
            permitted.append(str(address))
    if not permitted:
        via = "" if refusals and refusals[0].startswith(host) else f"{host} resolves to: "
        raise AddressRefused(f"Refused before connecting: {via}{'; '.join(refusals)}. Connectors may not reach "
                             "link-local or cloud metadata addresses (UPSTREAM_ALLOWED_NETWORKS exempts networks).")
    return permitted


class PolicyBackend(httpcore.NetworkBackend):
    """httpcore's network backend with the policy checked on every new connection."""

    def __init__(self, inner: httpcore.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in addresses_permitted(host, port):
            try:
                return self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error  # type: ignore[misc]  (addresses_permitted never returns an empty list)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover
        raise AddressRefused("Connectors do not connect to Unix sockets.")

    def sleep(self, seconds: float) -> None:  # pragma: no cover
        self._inner.sleep(seconds)
