"""The client's IP address, for every limit: X-Forwarded-For counts only when a trusted proxy sent it.

With CURATOR_TRUSTED_PROXIES empty (the default) the client is the connecting address and
X-Forwarded-For is ignored, so nobody can pick the address a limit counts. Behind proxies,
the header is read from the right: each hop a trusted proxy appended is skipped, and the
first address not in the list is the client (a client can prepend anything it likes, but
cannot forge what the proxies add after it).
"""

from __future__ import annotations

import ipaddress
from functools import cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in net for net in networks)


def client_ip(request: Request) -> str:
    """The address the request came from, as far as this server can trust it."""
    peer = request.client.host if request.client else "unknown"
    networks = _networks(tuple(request.app.state.settings.trusted_proxies))
    if not networks or not _trusted(_address(peer), networks):
        return peer
    hops = [h for value in request.headers.getlist("x-forwarded-for") for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return peer  # a garbled header: believe only the proxy itself
        if not _trusted(address, networks):
            return str(address)
    return str(_address(hops[0])) if hops else peer

