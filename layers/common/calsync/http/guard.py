"""Requests to URLs a user supplied (a calendar export, a booking platform's per-account API host, a CalDAV
server), guarded against server-side request forgery: **resolve → check → connect**.

:func:`request` resolves the URL's host *here*, checks every address it resolves to, and connects to the
checked address — not to the name, which could resolve differently a moment later (DNS rebinding). The TLS
handshake still names and verifies the host (SNI and the certificate check use the original name) and the
``Host`` header carries it. Refused (:class:`BlockedUrl`, with a short ``reason`` code and never the URL):

* a scheme other than ``https`` (plain ``http`` only in local development), credentials in the URL;
* any address that is not globally routable — private, loopback, link-local (the instance metadata service
  among them), carrier-grade NAT, multicast, reserved — including those hiding in IPv4-mapped IPv6; the
  metadata addresses even in local development, where loopback and private addresses are allowed for the
  local stack's simulators;
* more than :data:`MAX_REDIRECTS` redirects. Redirects are followed by hand, each hop checked the same way.

``credentials`` (headers such as ``Authorization``) follow the rule of :mod:`calsync.http.origins`: they go
only to a URL allowed to carry them, and never after a redirect to another origin — such a redirect is
refused (``redirect_to_other_origin``) rather than followed without them, because the server asked for an
authenticated answer. A request without credentials (an export URL, itself the secret) follows redirects
anywhere that passes the check.

    with new_client(timeout) as client:
        response = guard.request(client, "GET", url, local_development=settings.local_development,
                                 headers={"Accept": "text/calendar"}, credentials={"Authorization": "Basic …"})

The client must not follow redirects itself (``calsync.http.client.new_client`` does not).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from calsync.core.errors import CalSyncError
from calsync.http.origins import may_carry_credentials, same_origin

MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})
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


def allowed_address(text: str, *, local_development: bool) -> bool:
    """True when ``text`` is an address calsync may connect to."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES or address.is_multicast or address.is_unspecified:
        return False
    if local_development and (address.is_loopback or address.is_private):
        return True
    return address.is_global


def check(url: str, *, local_development: bool, resolver: Resolver = system_resolver) -> Target:
    """The checked target of ``url``; raises :class:`BlockedUrl`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BlockedUrl("malformed") from None
    schemes = ("https", "http") if local_development else ("https",)
    if parts.scheme not in schemes:
        raise BlockedUrl("scheme")
    if parts.username is not None or parts.password is not None:
        raise BlockedUrl("credentials_in_url")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BlockedUrl("no_host")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = resolver(host, port)
    if not addresses or not all(allowed_address(a, local_development=local_development) for a in addresses):
        raise BlockedUrl("address")
    return Target(parts.scheme, host, port, addresses[0], parts.path, parts.query)


def request(client: httpx.Client, method: str, url: str, *, local_development: bool,
            headers: Mapping[str, str] | None = None, credentials: Mapping[str, str] | None = None,
            content: bytes | None = None, resolver: Resolver = system_resolver) -> httpx.Response:
    """Sends one request to ``url`` over a checked connection, following up to :data:`MAX_REDIRECTS`
    redirects (each checked again; with ``credentials``, only within the first URL's origin)."""
    if credentials and not may_carry_credentials(url, local_development=local_development):
        raise BlockedUrl("insecure_url")
    first = url
    for _ in range(MAX_REDIRECTS + 1):
        target = check(url, local_development=local_development, resolver=resolver)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        sent = {**(headers or {}), **(credentials or {}), "Host": target.host_header}
        response = client.request(method, target.connect_url, headers=sent, content=content, extensions=extensions)
        if response.status_code not in REDIRECTS or "location" not in response.headers:
            return response
        response.close()
        url = urljoin(url, response.headers["location"])
        if credentials and not same_origin(first, url):
            raise BlockedUrl("redirect_to_other_origin")
        if response.status_code == 303:
            method, content = "GET", None
    raise BlockedUrl("too_many_redirects")
