"""The shared httpx client factory: explicit timeouts, bounded pools, our user agent, no cookies."""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

USER_AGENT = "calsync/0.1 (+calendar sync for EHRs)"


MAX_CONNECTIONS = 64
"""Per client: one change fans out to up to ``services.fanout.DEFAULT_WIDTH`` calendars at once, and a
backfill keeps a few requests in flight per calendar, so the pool must not be what makes them queue."""


def no_cookies() -> CookieJar:
    """A jar that keeps nothing: one client serves every integration of a provider, so a cookie one
    clinician's server sets must never ride along on another clinician's requests."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def new_client(timeout_seconds: float, **kwargs: object) -> httpx.Client:
    return httpx.Client(
        cookies=no_cookies(),
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS // 2),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        **kwargs,  # type: ignore[arg-type]
    )
