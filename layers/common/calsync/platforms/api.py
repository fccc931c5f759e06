"""Calls to a booking platform's API (fetch-backs and the ICS export download).

Every call goes over a guarded connection (``calsync.platforms.guard``: the host may come from a tenant's
settings) and every answer through calsync's one HTTP decision table (``calsync.providers.outcomes``), so
a platform's 429 or outage is the same ``ProviderRateLimitedError`` / ``ProviderUnavailableError`` a
calendar provider raises, retried on the same schedule (``calsync.retry_policy``). A 404 or 410 for a
booking means the platform has no such booking: :meth:`PlatformApi.get` returns None.

Credentials come from the tenant's platform secret, key ``api_auth``: ``{"bearer": "<token>"}``,
``{"basic": ["<user>", "<password>"]}`` or ``{"headers": {"<name>": "<value>"}}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import httpx

from calsync.errors import ProviderGoneError, ProviderRejectedError
from calsync.platforms import guard
from calsync.providers.http import new_client
from calsync.providers.outcomes import raise_for_status, transport_errors

MAX_RESPONSE_BYTES = 5 * 1024 * 1024


@lru_cache(maxsize=4)
def _client(timeout_seconds: float) -> httpx.Client:
    return new_client(timeout_seconds)


def auth_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    """The request headers that authenticate calsync to the platform (empty when it needs none)."""
    auth = credentials.get("api_auth") or {}
    if not isinstance(auth, Mapping):
        return {}
    if isinstance(auth.get("bearer"), str):
        return {"Authorization": f"Bearer {auth['bearer']}"}
    basic = auth.get("basic")
    if isinstance(basic, list) and len(basic) == 2:
        token = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    headers = auth.get("headers")
    if isinstance(headers, Mapping):
        return {str(name): str(value) for name, value in headers.items()}
    return {}


class PlatformApi:
    """One platform account's API: a base URL, its credentials, a timeout."""

    def __init__(self, platform: str, base_url: str, headers: Mapping[str, str], *, allow_local: bool,
                 timeout_seconds: float, client: httpx.Client | None = None) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json", **headers}
        self._allow_local = allow_local
        self._client = client or _client(timeout_seconds)

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        return self.base_url + path + (f"?{urlencode(params)}" if params else "")

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any | None:
        """The JSON the platform answers; None for 404/410 (no such booking)."""
        return self._call("GET", self.url(path, params), None)

    def post(self, path: str, body: Any) -> Any | None:
        return self._call("POST", self.url(path), json.dumps(body).encode())

    def _call(self, method: str, url: str, content: bytes | None) -> Any | None:
        headers = dict(self._headers)
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            with transport_errors(self.platform):
                response = guard.request(self._client, method, url, allow_local=self._allow_local,
                                         headers=headers, content=content)
        except guard.BlockedUrl as blocked:
            raise ProviderRejectedError(self.platform, blocked.reason) from None
        try:
            raise_for_status(self.platform, response)
        except ProviderGoneError:
            return None
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise ProviderRejectedError(self.platform, "response_too_large", response.status_code)
        try:
            return response.json()
        except ValueError:
            raise ProviderRejectedError(self.platform, "not_json", response.status_code) from None
