"""An httpx client for addresses a person or a tenant supplied (a CalDAV server, a booking platform's API
host or calendar export): it reaches public addresses only. The one SSRF guard of calsync.

Server-side request forgery is refused where the connection is made, not where the URL is read: each
connection resolves the host, checks *every* address it resolves to, and connects to the checked address
itself (TLS still verifies the certificate for the host name). A name that resolves to a private,
loopback, link-local (cloud metadata: 169.254.169.254, fd00:ec2::254, the container credentials endpoint
169.254.170.2), shared, multicast or reserved address is refused, and so is an address given literally; so
a DNS answer that changes between the check and the connection (rebinding) cannot slip through, and
neither can a redirect, which is a new connection.

Local development (``Settings.local_development``) additionally allows loopback, and only loopback: the
local stack's Radicale and simulators listen on 127.0.0.1. The metadata addresses stay refused there too.

Which URLs may carry credentials, and which redirects a request follows, are the caller's rules
(``calsync.http.origins``, ``calsync.http.outcomes.redirect_location``); this module decides only which
addresses a connection may reach.

httpx has no public hook for the connection step; :class:`GuardedTransport` gives its connection pool a
network backend that does the check (httpcore's ``NetworkBackend`` interface).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from calsync.core import snapshot
from calsync.core.errors import ProviderRejectedError
from calsync.http.client import MAX_CONNECTIONS, NO_DELAY, USER_AGENT, no_cookies

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
"""``(host, port)`` -> the addresses the host resolves to (as text)."""
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                                ipaddress.ip_address("169.254.170.2")})
"""Instance metadata and container credentials: never reached, whatever else is allowed."""


class ForbiddenAddressError(ProviderRejectedError):
    """The server's address is not a public one (or could not be resolved)."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(provider, reason)


def system_resolver(host: str, port: int) -> list[str]:
    """The system's answer for ``host`` (getaddrinfo); an unresolvable name is refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def allowed_address(address: IpAddress, *, allow_loopback: bool) -> bool:
    """Public unicast addresses only; loopback too when ``allow_loopback`` (local development); the
    metadata addresses never."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return False
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def checked_address(host: str, port: int, *, allow_loopback: bool, provider: str = "caldav",
                    resolve: Resolver = system_resolver) -> str:
    """The address to connect to for ``host``: every address it resolves to must be allowed."""
    try:
        literal: IpAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        found: Iterable[IpAddress] = [literal]
    else:
        try:
            found = [ipaddress.ip_address(text.split("%")[0]) for text in resolve(host, port)]
        except ValueError:
            raise ForbiddenAddressError(provider, "host_not_found") from None
    addresses = list(dict.fromkeys(found))
    if not addresses:
        raise ForbiddenAddressError(provider, "host_not_found")
    if not all(allowed_address(address, allow_loopback=allow_loopback) for address in addresses):
        raise ForbiddenAddressError(provider, "address_not_allowed")
    return str(addresses[0])


class _GuardedBackend(httpcore.SyncBackend):
    def __init__(self, allow_loopback: bool, provider: str, resolve: Resolver) -> None:
        self._allow_loopback = allow_loopback
        self._provider = provider
        self._resolve = resolve

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        address = checked_address(host, port, allow_loopback=self._allow_loopback, provider=self._provider,
                                  resolve=self._resolve)
        return super().connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                   socket_options=socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise ForbiddenAddressError(self._provider, "address_not_allowed")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with a connection pool whose every connection goes through the address check.

    ``resolve`` and ``verify`` are for tests (a name answered with chosen addresses, a throw-away CA)."""

    def __init__(self, *, allow_loopback: bool, provider: str = "caldav", resolve: Resolver = system_resolver,
                 verify: ssl.SSLContext | bool = True, max_connections: int = 20) -> None:
        super().__init__()
        ssl_context = httpx.create_ssl_context(verify=verify)
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, max_connections=max_connections,
                                             max_keepalive_connections=max_connections // 2,
                                             socket_options=NO_DELAY,
                                             network_backend=_GuardedBackend(allow_loopback, provider, resolve))


def guarded_client(timeout_seconds: float, *, allow_loopback: bool, provider: str = "caldav",
                   resolve: Resolver = system_resolver, verify: ssl.SSLContext | bool = True,
                   max_connections: int = 20, **kwargs: Any) -> httpx.Client:
    """Like ``calsync.http.client.new_client`` (timeouts, no automatic redirects), for user-given addresses."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        transport=GuardedTransport(allow_loopback=allow_loopback, provider=provider, resolve=resolve,
                                   verify=verify, max_connections=max_connections),
        **kwargs,
    )


_shared_lock = threading.Lock()
_shared: dict[bool, httpx.Client] = {}


def shared_guarded_client(timeout_seconds: float, *, allow_loopback: bool) -> httpx.Client:
    """The one pooled guarded client of the process (per ``allow_loopback``), shared by every CalDAV
    integration: credentials go with each request, and its jar keeps no cookie, so nothing of one clinician's
    server rides along on another's requests. Each connection is checked when it is made; a pooled one was."""
    with _shared_lock:
        client = _shared.get(allow_loopback)
        if client is None:
            client = _shared[allow_loopback] = guarded_client(timeout_seconds, allow_loopback=allow_loopback,
                                                              max_connections=MAX_CONNECTIONS, cookies=no_cookies())
        return client


@snapshot.after_restore
def reset_shared() -> None:
    """Closes the shared clients (a SnapStart restore: a connection in the snapshot is dead in the copy)."""
    with _shared_lock:
        for client in _shared.values():
            client.close()
        _shared.clear()
