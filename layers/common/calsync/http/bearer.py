"""Provider API requests with an OAuth bearer token (Google Calendar, Microsoft Graph).

The one place that decides what a 401 means: the access token expired or was revoked early, so the
token source renews it once and the request is sent again; a second 401 goes to
``outcomes.raise_for_status`` like any other answer (an auth error). Transport failures become
``ProviderUnavailableError`` through ``outcomes.transport_errors``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from calsync.core import snapshot
from calsync.http.client import new_client
from calsync.http.outcomes import transport_errors


class TokenSource(Protocol):
    def access_token(self) -> str:
        """A bearer token that is good for a while."""
        ...

    def renew(self, rejected: str) -> str:
        """A new bearer token after the provider answered 401 to ``rejected``."""
        ...


_client_lock = threading.Lock()
_clients: dict[str, httpx.Client] = {}


def shared_client(provider: str) -> httpx.Client:
    """One pooled client per provider per process: warm invocations reuse its connections."""
    with _client_lock:
        client = _clients.get(provider)
        if client is None:
            from calsync.core.settings import get_settings

            client = _clients[provider] = new_client(get_settings().provider_timeout_seconds)
        return client


@snapshot.after_restore
def reset_clients() -> None:
    """Closes the pooled clients (tests that change TLS trust, shutdown, and a SnapStart restore: whatever
    connection a snapshot holds is dead in the copy)."""
    with _client_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


class BearerSession:
    """Sends requests for one integration with its access token; renews the token once on a 401."""

    def __init__(self, provider: str, tokens: TokenSource, client: httpx.Client | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.provider = provider
        self._tokens = tokens
        self._client = client
        self._headers = dict(headers or {})

    def http(self) -> httpx.Client:
        return self._client if self._client is not None else shared_client(self.provider)

    def send(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
             **kwargs: Any) -> httpx.Response:
        token = self._tokens.access_token()
        response = self._send(method, url, token, headers, kwargs)
        if response.status_code == 401:
            token = self._tokens.renew(rejected=token)
            response = self._send(method, url, token, headers, kwargs)
        return response

    def _send(self, method: str, url: str, token: str, headers: Mapping[str, str] | None,
              kwargs: dict[str, Any]) -> httpx.Response:
        merged = {**self._headers, **(headers or {}), "Authorization": f"Bearer {token}"}
        with transport_errors(self.provider):
            return self.http().request(method, url, headers=merged, **kwargs)
