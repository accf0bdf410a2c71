"""Fetch only public addresses: the one rule for every URL a person typed (feeds, links an editor adds).

A host name is resolved once, and every address it resolves to must be public: loopback,
private, shared (CGNAT), link-local, multicast, reserved and unspecified addresses are
refused, in IPv4 and IPv6, and inside IPv4-mapped, NAT64 and 6to4 IPv6 addresses. Numeric
forms (decimal, hex, octal IPv4) are caught because the check runs on what the resolver
returns, not on the text. The connection then goes to the checked address itself (an
httpcore network backend), so a second DNS answer cannot switch it (DNS rebinding); the URL,
the Host header and TLS SNI keep the name. Each new host of a redirect chain goes through
the same check, since every new connection does.

    guard = Guard()                                  # one per run: verdicts are cached per host
    httpx.Client(transport=guarded_transport(guard))         # the desk's link preview
    httpx.AsyncClient(transport=guarded_async_transport(guard))  # ingest
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from curator.errors import CuratorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(CuratorError):
    """A URL's host is (or resolves to) an address Curator does not fetch from."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(
            f"{host} is a loopback, private or otherwise non-public address ({address}); "
            "Curator fetches only from public addresses"
        )
        self.host, self.address = host, address


def is_public(address: IPAddress) -> bool:
    """True for an address on the public internet; False for anything local, private or special."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None
        )
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (
        address.is_loopback or address.is_private or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified
    )


def check_addresses(host: str, found: list[str], also_allowed: frozenset[str] = frozenset()) -> list[str]:
    """The resolved addresses, all public, or BlockedAddress naming the first that is not."""
    if not found:
        raise BlockedAddress(host, "no address")
    for text in found:
        if text not in also_allowed and not is_public(ipaddress.ip_address(text.split("%", 1)[0])):
            raise BlockedAddress(host, text)
    return found


def _addresses(infos: list) -> list[str]:
    seen: list[str] = []
    for *_, sockaddr in infos:
        if sockaddr[0] not in seen:
            seen.append(str(sockaddr[0]))
    return seen


@dataclass
class Guard:
    """The verdict for each host, cached for the guard's life (one ingest run, one link preview).

    `also_allowed`: addresses let through though not public (the tests' stand-in for a public site).
    """

    verdicts: dict[tuple[str, int], list[str] | BlockedAddress] = field(default_factory=dict)
    also_allowed: frozenset[str] = frozenset()

    def _remember(self, key: tuple[str, int], resolve) -> list[str]:
        verdict = self.verdicts.get(key)
        if verdict is None:
            try:
                verdict = check_addresses(key[0], _addresses(resolve()), self.also_allowed)
            except BlockedAddress as exc:
                verdict = exc
            self.verdicts[key] = verdict
        if isinstance(verdict, BlockedAddress):
            raise verdict
        return verdict

    def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses of `host` (resolving it in this thread the first time)."""
        try:
            return self._remember((host, port), lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None

    async def addresses_async(self, host: str, port: int) -> list[str]:
        key = (host, port)
        if key not in self.verdicts:
            try:
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
            return self._remember(key, lambda: infos)
        return self._remember(key, lambda: [])


def refusal(url: str, guard: Guard) -> BlockedAddress | None:
    """Why `url` would be refused, or None (a name that does not resolve now is not refused here)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    try:
        guard.addresses(parts.hostname or "", port)
    except BlockedAddress as exc:
        return exc
    except (httpcore.ConnectError, UnicodeError):
        return None
    return None


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, guard: Guard) -> None:
        self.guard, self.inner = guard, httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last: Exception | None = None
        for address in self.guard.addresses(host, port):
            try:
                return self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, guard: Guard) -> None:
        self.guard, self.inner = guard, httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last: Exception | None = None
        for address in await self.guard.addresses_async(host, port):
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _pool_options(verify: ssl.SSLContext | bool, limits: httpx.Limits) -> dict:
    return {
        "ssl_context": httpx.create_ssl_context(verify=verify, trust_env=False),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport, its pool built on the guarded backend; no proxy from the environment."""

    def __init__(self, guard: Guard, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None):
        limits = limits or httpx.Limits()
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(network_backend=_GuardedBackend(guard), **_pool_options(verify, limits))


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, guard: Guard, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None):
        limits = limits or httpx.Limits()
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=_AsyncGuardedBackend(guard), **_pool_options(verify, limits)
        )
