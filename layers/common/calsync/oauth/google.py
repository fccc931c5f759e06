"""Google access tokens: the integration's refresh token, refreshed through google-auth over httpx.

google-auth has no httpx transport; :func:`httpx_request` is a small ``google.auth.transport.Request``.
It ends a refresh at once when the token endpoint answers 408, 429 or 5xx (google-auth would otherwise
sleep and retry inside the invocation): retries belong to the ledger, which honours ``Retry-After``.

The token endpoint is a deployment setting (``calsync.core.settings``), never an integration's: no
stored record can send a refresh token anywhere else. Google does not normally rotate refresh tokens;
when it does return a new one, it is written back by compare-and-swap (see ``secret``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import httpx

from calsync.core.errors import ConfigurationError, ProviderUnavailableError
from calsync.domain.model import Integration
from calsync.http.outcomes import retry_after_seconds, token_error, transient
from calsync.oauth import token_secret as secret
from calsync.oauth.memory import AccessToken
from calsync.oauth.source import CachedTokenSource

PROVIDER = "google"
TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - an endpoint, not a secret
DEFAULT_LIFETIME_SECONDS = 3600.0


class TokenEndpointBusy(Exception):
    """The token endpoint asked us to come back later (408, 429, 5xx)."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"token endpoint answered {status}")
        self.status = status
        self.retry_after = retry_after


@lru_cache(maxsize=1)
def _request_class() -> type[Any]:
    """Builds the transport class on first use, so importing this module does not import google-auth."""
    from google.auth import exceptions, transport

    class Busy(TokenEndpointBusy, exceptions.TransportError):
        """Raised through google-auth's retry loop, which lets transport errors pass."""

    class Response(transport.Response):
        def __init__(self, response: httpx.Response) -> None:
            self._response = response

        @property
        def status(self) -> int:
            return self._response.status_code

        @property
        def headers(self) -> Mapping[str, str]:
            return self._response.headers

        @property
        def data(self) -> bytes:
            return self._response.content

    class HttpxRequest(transport.Request):
        def __init__(self, client: httpx.Client) -> None:
            self._client = client

        def __call__(self, url: str, method: str = "GET", body: bytes | None = None,
                     headers: Mapping[str, str] | None = None, timeout: float | None = None,
                     **_kwargs: Any) -> Response:
            try:
                response = self._client.request(method, url, content=body, headers=dict(headers or {}),
                                                timeout=timeout or httpx.USE_CLIENT_DEFAULT)
            except httpx.HTTPError as error:
                raise exceptions.TransportError(type(error).__name__) from None  # type: ignore[no-untyped-call]
            if transient(response.status_code):
                raise Busy(response.status_code, retry_after_seconds(response))
            return Response(response)

    return HttpxRequest


def httpx_request(client: httpx.Client) -> Any:
    """A ``google.auth.transport.Request`` that sends through ``client``."""
    return _request_class()(client)


def _error_code(error: Exception) -> str | None:
    """The OAuth ``error`` of a google-auth RefreshError (its second argument is the response body)."""
    body = error.args[1] if len(error.args) > 1 else None
    if isinstance(body, Mapping):
        code = body.get("error")
        return code if isinstance(code, str) else None
    return None


def _epoch(expiry: dt.datetime | None) -> float:
    """google-auth keeps ``expiry`` as naive UTC."""
    if expiry is None:
        return dt.datetime.now(dt.UTC).timestamp() + DEFAULT_LIFETIME_SECONDS
    return expiry.replace(tzinfo=dt.UTC).timestamp()


class GoogleTokenSource(CachedTokenSource):
    """Access tokens for one Google integration (one clinician's consent)."""

    def __init__(self, integration: Integration, client: Callable[[], httpx.Client], *,
                 token_uri: str = TOKEN_URI) -> None:
        if not integration.secret_ref:
            raise ConfigurationError("google integration has no secret reference")
        super().__init__(f"google|{integration.secret_ref}")
        self._integration = integration
        self._client = client
        self._token_uri = token_uri

    def _obtain(self, force: bool) -> AccessToken:
        from google.auth.exceptions import RefreshError, TransportError
        from google.oauth2.credentials import Credentials

        stored = secret.load(PROVIDER, self._integration.tenant_id, self._integration.secret_ref)
        refresh_token = stored.value.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise token_error(PROVIDER, "invalid_grant")  # nothing to refresh with: consent is needed
        client_id, client_secret = secret.client_credentials(PROVIDER, self._integration, stored)
        credentials = Credentials(  # type: ignore[no-untyped-call]
            token=None, refresh_token=refresh_token, token_uri=self._token_uri, client_id=client_id,
            client_secret=client_secret)
        try:
            credentials.refresh(httpx_request(self._client()))  # type: ignore[no-untyped-call]
        except TokenEndpointBusy as busy:
            raise token_error(PROVIDER, None, busy.status, busy.retry_after) from None
        except RefreshError as error:
            raise token_error(PROVIDER, _error_code(error)) from None
        except TransportError:
            raise ProviderUnavailableError(PROVIDER, "token_transport") from None
        if credentials.refresh_token and credentials.refresh_token != refresh_token:
            secret.swap(stored, {**stored.value, "refresh_token": credentials.refresh_token})
        return AccessToken(value=str(credentials.token), expires_at=_epoch(credentials.expiry))
