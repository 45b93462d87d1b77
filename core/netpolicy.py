"""Address facts shared by every outbound policy (webhooks and upstream connectors).

Each caller keeps its own rules (webhooks refuse every non-public address; connectors allow
private ones, docs/architecture.md "The upstream toolkit"); what they share is here: the cloud
metadata addresses, CIDR lists from settings, and the IPv4 address hidden inside an IPv6 one
(IPv4-mapped, 6to4, NAT64), which would otherwise smuggle a refused IPv4 address through.
"""

import ipaddress
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
    "fd00:ec2::254",  # AWS over IPv6
    "169.254.170.2",  # AWS ECS task metadata
    "100.100.100.200",  # Alibaba Cloud
))
NAT64 = ipaddress.ip_network("64:ff9b::/96")


@lru_cache(maxsize=8)
def networks_parse(cidrs: tuple[str, ...]) -> tuple:
    """CIDRs (from an env list) as networks; cached, settings lists are few and fixed."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def in_networks(address: IPAddress, networks: tuple) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_normalize(address: str) -> IPAddress:
    """IPv4-mapped IPv6 addresses become the IPv4 address they denote (and are connected to as such)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped is not None else ip
