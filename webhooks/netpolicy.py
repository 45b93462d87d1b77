"""Which addresses a webhook may be sent to (SSRF protection).

Refused unless inside WEBHOOK_ALLOWED_NETWORKS: private, loopback, link-local, multicast,
reserved, unspecified and otherwise non-global addresses, the cloud metadata addresses, and
the IPv4 addresses embedded in IPv6 ones (IPv4-mapped ::ffff:a.b.c.d, 6to4, NAT64), which
would otherwise smuggle a refused IPv4 address through. Plain http is refused unless every
address used is inside an allowed network.

The check runs on resolved addresses (webhooks.transport connects to exactly those), never on
the hostname alone. The address facts it shares with upstream connectors live in core/netpolicy.py.
"""

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

import httpx
from django.conf import settings

from core.netpolicy import METADATA_ADDRESSES, IPAddress, address_normalize, embedded_ipv4
from core.netpolicy import networks_parse as _networks


class TargetRefused(Exception):
    """The URL or its addresses are not allowed; nothing was (or will be) sent."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # ASCII (IDNA) host, without IPv6 brackets
    port: int
    literal: bool  # the host is an IP address


@lru_cache(maxsize=1024)
def url_parse(url: str) -> Target:
    """The URL's parts, or TargetRefused. Cached: a pure function of the string (refusals are not cached)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise TargetRefused(f"Refused: {url!r} is not a valid URL ({exc}).") from None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused(f"Refused: the URL scheme must be https (got {scheme or 'none'!r}).")
    host = parsed.raw_host.decode("ascii").strip("[]").lower()
    if not host:
        raise TargetRefused("Refused: the URL has no host.")
    port = parsed.port or (443 if scheme == "https" else 80)
    try:
        ipaddress.ip_address(host)
        literal = True
    except ValueError:
        literal = False
    return Target(scheme=scheme, host=host, port=port, literal=literal)


def allowed_networks() -> tuple:
    return _networks(tuple(settings.WEBHOOK_ALLOWED_NETWORKS or ()))


def _category(address: IPAddress) -> str | None:
    """Why an address is refused by default, or None when it is a public unicast address."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for test, name in (("is_unspecified", "an unspecified address"), ("is_loopback", "a loopback address"),
                       ("is_link_local", "a link-local address"), ("is_multicast", "a multicast address"),
                       ("is_reserved", "a reserved address"), ("is_private", "a private address")):
        if getattr(address, test):
            return name
    if not address.is_global:
        return "a non-public address"
    return None


def address_refusal(address: IPAddress, *, allowed: tuple = ()) -> str | None:
    if any(address.version == net.version and address in net for net in allowed):
        return None
    reason = _category(address)
    if reason is None and (embedded := embedded_ipv4(address)) is not None:
        inner = address_refusal(embedded, allowed=allowed)
        reason = f"an IPv6 address embedding {embedded}, {inner}" if inner else None
    return reason


def addresses_check(candidates: list[str], *, scheme: str, host: str, allowed: tuple) -> list[str]:
    """The candidates that may be connected to, in order; raises TargetRefused if there are none.

    A name resolving to a mix keeps only its permitted addresses: connections go to those alone.
    """
    permitted, refusals = [], []
    for candidate in candidates:
        address = address_normalize(candidate)
        reason = address_refusal(address, allowed=allowed)
        if reason is None and scheme == "http" and not any(
                address.version == net.version and address in net for net in allowed):
            reason = "not in WEBHOOK_ALLOWED_NETWORKS, and plain http:// is only allowed there (use https://)"
        if reason is None:
            if str(address) not in permitted:
                permitted.append(str(address))
        else:
            refusals.append(f"{address} is {reason}")
    if not permitted:
        via = "" if host == (candidates[0] if candidates else "") else f"{host} resolves to: "
        detail = "; ".join(refusals) or "no addresses"
        raise TargetRefused(f"Refused before connecting: {via}{detail}. Webhook endpoints must be public "
                            "HTTPS addresses (WEBHOOK_ALLOWED_NETWORKS exempts networks in development).")
    return permitted
