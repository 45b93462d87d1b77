"""Which addresses a webhook may be sent to (SSRF protection).

Refused unless inside WEBHOOK_ALLOWED_NETWORKS: private, loopback, link-local, multicast,
reserved, unspecified and otherwise non-global addresses, the cloud metadata addresses, and
the IPv4 addresses embedded in IPv6 ones (IPv4-mapped ::ffff:a.b.c.d, 6to4, NAT64), which
would otherwise smuggle a refused IPv4 address through. Plain http is refused unless every
address used is inside an allowed network.

The check runs on resolved addresses (webhooks.transport connects to exactly those), never on
the hostname alone.
"""

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
    "fd00:ec2::254",  # AWS over IPv6
    "169.254.170.2",  # AWS ECS task metadata
    "100.100.100.200",  # Alibaba Cloud
))
NAT64 = ipaddress.ip_network("64:ff9b::/96")


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


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def allowed_networks() -> tuple:
    return _networks(tuple(settings.WEBHOOK_ALLOWED_NETWORKS or ()))


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


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


def address_normalize(address: str) -> IPAddress:
    """IPv4-mapped IPv6 addresses become the IPv4 address they denote (and are connected to as such)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped is not None else ip


def address_refusal(address: IPAddress, *, allowed: tuple = ()) -> str | None:
    if any(address.version == net.version and address in net for net in allowed):
        return None
    reason = _category(address)
    if reason is None and (embedded := _embedded_ipv4(address)) is not None:
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
