"""The client address a per-address rate limit counts: the TCP peer, unless that peer is a
configured trusted proxy (`--trusted-proxy CIDR`), in which case the right-most address of
`X-Forwarded-For` that is not itself a trusted proxy. A client that is not a trusted proxy
cannot pick its own address by sending the header."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """ "10.0.0.0/8", "127.0.0.1" -> networks. Raises ValueError naming the bad entry."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or CIDR block: {cidr!r}") from None
    return tuple(networks)


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(cidrs)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request, trusted_cidrs: tuple[str, ...]) -> str:
    peer = request.client.host if request.client else "unknown"
    trusted = _networks(trusted_cidrs)
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return peer
