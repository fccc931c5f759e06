"""Calls to a booking platform's API (fetch-backs) and downloads of its calendar export.

Every call goes over a guarded connection (``calsync.http.guarded``, public addresses only: the host may come
from a tenant's settings), the API credentials go only to that host's origin (``calsync.http.origins``), and
every answer goes through calsync's HTTP decision tables (``calsync.http.outcomes``, the ``platform`` rows),
so a platform's 429 or outage is the same ``ProviderRateLimitedError`` / ``ProviderUnavailableError`` a
calendar provider raises, retried on the same schedule (``calsync.domain.retry_policy``). A 404 or 410 for a
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

from calsync.core.errors import ProviderRejectedError
from calsync.http.guarded import ForbiddenAddressError, guarded_client
from calsync.http.origins import may_carry_credentials
from calsync.http.outcomes import Answer, answer, redirect_location, transport_errors

MAX_RESPONSE_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 3
FAMILY = "platform"
"""The rows of ``calsync.http.outcomes`` every platform shares."""


def guarded(timeout_seconds: float, *, local_development: bool) -> httpx.Client:
    """A client that reaches public addresses only (loopback too in local development)."""
    return guarded_client(timeout_seconds, allow_loopback=local_development, provider=FAMILY)


@lru_cache(maxsize=4)
def _client(timeout_seconds: float, local_development: bool) -> httpx.Client:
    return guarded(timeout_seconds, local_development=local_development)


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


def send(platform: str, client: httpx.Client, method: str, url: str, *, local_development: bool,
         headers: Mapping[str, str] | None = None, credentials: Mapping[str, str] | None = None,
         content: bytes | None = None) -> httpx.Response:
    """One request on behalf of ``platform`` over ``client`` (a guarded one: :func:`guarded`), following up
    to :data:`MAX_REDIRECTS` redirects, each a new guarded connection. Every URL must be one that may carry
    credentials (https; plain http to loopback in local development; no user info): an export URL is itself
    one. With ``credentials`` a redirect is followed only within the first URL's origin. Transport failures
    and refused URLs become the platform's provider errors (a refused URL is refused for good)."""
    sent = {**(headers or {}), **(credentials or {})}
    for _ in range(MAX_REDIRECTS + 1):
        if not may_carry_credentials(url, local_development=local_development):
            raise ProviderRejectedError(platform, "insecure_url")
        try:
            with transport_errors(platform):
                response = client.request(method, url, headers=sent, content=content)
        except ForbiddenAddressError as refused:  # the guarded connection's refusal, in the platform's name
            raise ProviderRejectedError(platform, refused.reason) from None
        location = redirect_location(platform, response, url, same_origin=bool(credentials))
        if location is None:
            if len(response.content) > MAX_RESPONSE_BYTES:
                raise ProviderRejectedError(platform, "response_too_large", response.status_code)
            return response
        response.close()
        url = location
        if response.status_code == 303:
            method, content = "GET", None
    raise ProviderRejectedError(platform, "too_many_redirects")


class PlatformApi:
    """One platform account's API: a base URL, its credentials, a timeout."""

    def __init__(self, platform: str, base_url: str, credentials: Mapping[str, str], *, local_development: bool,
                 timeout_seconds: float, client: httpx.Client | None = None) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self._credentials = dict(credentials)
        self._local_development = local_development
        self._client = client or _client(timeout_seconds, local_development)

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        return self.base_url + path + (f"?{urlencode(params)}" if params else "")

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any | None:
        """The JSON the platform answers; None for 404/410 (no such booking)."""
        return self._call("GET", self.url(path, params), None)

    def post(self, path: str, body: Any) -> Any | None:
        return self._call("POST", self.url(path), json.dumps(body).encode())

    def _call(self, method: str, url: str, content: bytes | None) -> Any | None:
        headers = {"Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        response = send(self.platform, self._client, method, url, local_development=self._local_development,
                        headers=headers, credentials=self._credentials, content=content)
        if answer(self.platform, "fetch", response, family=FAMILY) is Answer.MISSING:
            return None
        try:
            return response.json()
        except ValueError:
            raise ProviderRejectedError(self.platform, "not_json", response.status_code) from None


def download_export(platform: str, url: str, validators: Mapping[str, str], *, local_development: bool,
                    timeout_seconds: float) -> httpx.Response | None:
    """A calendar export, conditionally (``etag`` → ``If-None-Match``, ``last_modified`` →
    ``If-Modified-Since``); None when it has not changed since. The URL is itself the credential, so it is
    never logged."""
    headers = {"Accept": "text/calendar"}
    if validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = validators["last_modified"]
    with guarded(timeout_seconds, local_development=local_development) as client:
        response = send(platform, client, "GET", url, local_development=local_development, headers=headers)
    if answer(platform, "export", response, family=FAMILY) is Answer.UNCHANGED:
        return None
    return response
