"""The shared httpx client factory: explicit timeouts, bounded pools, our user agent, no cookies."""

from __future__ import annotations

import os
import socket
import ssl
from functools import lru_cache
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

USER_AGENT = "calsync/0.1 (+calendar sync for EHRs)"


MAX_CONNECTIONS = 64
"""Per client: one change fans out to up to ``services.fanout.DEFAULT_WIDTH`` calendars at once, and a
backfill keeps a few requests in flight per calendar, so the pool must not be what makes them queue."""


NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
"""Every write leaves at once. httpx sends a request's headers and its body as two writes; with Nagle's
algorithm the body waits for the headers' ACK, which the server delays (40 ms on Linux): measured, 42 of
a Google write's 45 ms against the local simulator. urllib3 (botocore) sets the same option."""


def no_cookies() -> CookieJar:
    """A jar that keeps nothing: one client serves every integration of a provider, so a cookie one
    clinician's server sets must never ride along on another clinician's requests."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@lru_cache(maxsize=4)
def _tls(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads SSL_CERT_FILE / SSL_CERT_DIR, else certifi's bundle


def tls() -> ssl.SSLContext:
    """One TLS context for every client: loading the CA bundle costs tens of milliseconds each time.
    Rebuilt when ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` change (the local stack trusts its own CA)."""
    return _tls(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


def new_client(timeout_seconds: float, *, verify: ssl.SSLContext | None = None,
               transport: httpx.BaseTransport | None = None, **kwargs: object) -> httpx.Client:
    """A client with our defaults; ``transport`` replaces the network (tests), ``verify`` the trusted CAs."""
    if transport is None:
        transport = httpx.HTTPTransport(
            verify=verify or tls(), socket_options=NO_DELAY,
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS // 2))
    return httpx.Client(
        cookies=no_cookies(),
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        transport=transport,
        **kwargs,  # type: ignore[arg-type]
    )
