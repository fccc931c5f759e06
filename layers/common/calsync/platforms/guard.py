"""Requests to URLs a tenant supplied (calendar exports, per-account API hosts), guarded against SSRF.

A URL is resolved *here*, every address it resolves to is checked, and the connection goes to the
checked address — not to the name, which could resolve differently a moment later (DNS rebinding). The
TLS handshake still names and verifies the host (SNI and certificate check use the original name), and
the ``Host`` header carries it. Refused: anything but ``https`` (plain ``http`` only in local
development), credentials in the URL, and any address that is not globally routable — private, loopback,
link-local (the instance metadata service among them), carrier-grade NAT, multicast, reserved — including
those hiding in IPv4-mapped IPv6. Redirects are followed by hand, each hop checked the same way.

Only the local stack (``CALSYNC_LOCAL_DEVELOPMENT``) may reach loopback, where its simulators listen.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from calsync.errors import CalSyncError

MAX_REDIRECTS = 3
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                                ipaddress.ip_address("169.254.170.2")})
Resolver = Callable[[str, int], list[str]]


class BlockedUrl(CalSyncError):
    """A URL calsync will not fetch. ``reason`` is a short code; the URL itself is never repeated."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"refused URL: {reason}")


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to call the host (``host``)."""

    scheme: str
    host: str
    port: int
    address: str
    path: str
    query: str

    @property
    def connect_url(self) -> str:
        netloc = f"[{self.address}]" if ":" in self.address else self.address
        return urlunsplit((self.scheme, f"{netloc}:{self.port}", self.path or "/", self.query, ""))

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise BlockedUrl("unresolvable") from None
    return [str(info[4][0]) for info in infos]


def allowed_address(text: str, *, allow_local: bool) -> bool:
    """True when ``text`` is an address calsync may connect to."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES or address.is_multicast or address.is_unspecified:
        return False
    if allow_local and (address.is_loopback or address.is_private):
        return True
    return address.is_global


def check(url: str, *, allow_local: bool, resolver: Resolver = system_resolver) -> Target:
    """The checked target of ``url``; raises :class:`BlockedUrl`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BlockedUrl("malformed") from None
    schemes = ("https", "http") if allow_local else ("https",)
    if parts.scheme not in schemes:
        raise BlockedUrl("scheme")
    if parts.username is not None or parts.password is not None:
        raise BlockedUrl("credentials_in_url")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BlockedUrl("no_host")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = resolver(host, port)
    if not addresses or not all(allowed_address(a, allow_local=allow_local) for a in addresses):
        raise BlockedUrl("address")
    return Target(parts.scheme, host, port, addresses[0], parts.path, parts.query)


def request(client: httpx.Client, method: str, url: str, *, allow_local: bool,
            headers: Mapping[str, str] | None = None, content: bytes | None = None,
            resolver: Resolver = system_resolver) -> httpx.Response:
    """Sends one request to ``url`` over a checked connection, following up to :data:`MAX_REDIRECTS`
    redirects (each checked again). ``client`` must not follow redirects itself."""
    for _ in range(MAX_REDIRECTS + 1):
        target = check(url, allow_local=allow_local, resolver=resolver)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        response = client.request(method, target.connect_url, headers={**(headers or {}), "Host": target.host_header},
                                  content=content, extensions=extensions)
        if response.status_code not in (301, 302, 303, 307, 308) or "location" not in response.headers:
            return response
        url = urljoin(url, response.headers["location"])
        if response.status_code == 303:
            method, content = "GET", None
        response.close()
    raise BlockedUrl("too_many_redirects")
