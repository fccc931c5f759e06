"""The shared httpx client factory: explicit timeouts, bounded pools, our user agent."""

from __future__ import annotations

import httpx

USER_AGENT = "calsync/0.1 (+calendar sync for EHRs)"


def new_client(timeout_seconds: float, **kwargs: object) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        **kwargs,  # type: ignore[arg-type]
    )
