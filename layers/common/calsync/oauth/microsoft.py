"""Microsoft access tokens through msal, in two modes:

* **delegated** (a clinician's own consent): the integration's secret keeps msal's serialized token
  cache (``msal_cache``). A refresh loads it, lets ``acquire_token_silent_with_error`` redeem the
  refresh token, and writes the cache back, by compare-and-swap, only when msal says it changed:
  Microsoft rotates refresh tokens on every use. A secret that holds a bare ``refresh_token`` instead
  (from elsewhere) is migrated into an msal cache on first use.
* **organisation** (application permissions; the practice's Microsoft 365 admin consented once for
  all clinicians): client credentials for the practice's tenant. Nothing is written back, and every
  clinician of the tenant shares one token.

msal wants an https authority: the login base is a deployment setting (default
``https://login.microsoftonline.com``; the local simulator only in local development), the directory
``tenant_id`` an integration option.
msal talks through :class:`MsalHttpClient` (httpx), with instance discovery off (the authority is
configured, not user input). msal itself holds back a repeated token request for a while after a
400, 429 or 5xx; each token source keeps its own msal application, so that memory stays per integration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from calsync.core.errors import ConfigurationError, ProviderError, ProviderUnavailableError
from calsync.domain import integration_values
from calsync.domain.model import Integration
from calsync.http.outcomes import retry_after_seconds, token_error
from calsync.oauth import token_secret as secret
from calsync.oauth.memory import AccessToken
from calsync.oauth.source import CachedTokenSource

PROVIDER = "microsoft"
LOGIN_BASE = "https://login.microsoftonline.com"
TENANT_OPTION = integration_values.MICROSOFT_TENANT
DELEGATED_SCOPES = ("https://graph.microsoft.com/Calendars.ReadWrite",)
APPLICATION_SCOPES = ("https://graph.microsoft.com/.default",)
CACHE_FIELD = "msal_cache"
DEFAULT_LIFETIME_SECONDS = 3600.0


class MsalHttpClient:
    """msal's pluggable HTTP client (``post``/``get`` returning requests-like responses) over httpx.
    Remembers the status and ``Retry-After`` of the last answer, which msal's result dicts lack."""

    def __init__(self, client: Callable[[], httpx.Client]) -> None:
        self._client = client
        self.last_status: int | None = None
        self.last_retry_after: float | None = None

    def reset(self) -> None:
        self.last_status = self.last_retry_after = None

    def _note(self, response: httpx.Response) -> httpx.Response:
        self.last_status, self.last_retry_after = response.status_code, retry_after_seconds(response)
        return response

    @staticmethod
    def _headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
        return {k: str(v) for k, v in (headers or {}).items() if v is not None}

    def post(self, url: str, params: Mapping[str, Any] | None = None, data: Any = None,
             headers: Mapping[str, Any] | None = None, **_kwargs: Any) -> httpx.Response:
        body: dict[str, Any] = {"content": data} if isinstance(data, str | bytes) else {"data": data}
        return self._note(self._client().post(url, params=params, headers=self._headers(headers), **body))

    def get(self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, Any] | None = None,
            **_kwargs: Any) -> httpx.Response:
        return self._note(self._client().get(url, params=params, headers=self._headers(headers)))

    def close(self) -> None:
        """The httpx client is shared and outlives msal's application."""


class MicrosoftTokenSource(CachedTokenSource):
    """Access tokens for one Microsoft integration (delegated) or one tenant (organisation mode)."""

    def __init__(self, integration: Integration, client: Callable[[], httpx.Client], *, organisation: bool,
                 login_base: str = LOGIN_BASE) -> None:
        if not integration.secret_ref:
            raise ConfigurationError("microsoft integration has no secret reference")
        tenant = integration.options.get(TENANT_OPTION) or ("" if organisation else "common")
        if not tenant:
            raise ConfigurationError("microsoft organisation mode needs the tenant_id option")
        base = login_base.rstrip("/")
        if not base.startswith("https://"):
            raise ConfigurationError("microsoft login_base must be an https URL")
        mode = "application" if organisation else "delegated"
        super().__init__(f"microsoft-{mode}|{integration.secret_ref}|{tenant}")
        self._integration = integration
        self._organisation = organisation
        self._authority = f"{base}/{tenant}"
        self._http = MsalHttpClient(client)
        self._app: Any = None
        self._app_credentials: tuple[str, str] | None = None

    def _application(self, credentials: tuple[str, str]) -> Any:
        import msal

        if self._app is None or self._app_credentials != credentials:
            self._app = msal.ConfidentialClientApplication(
                credentials[0], client_credential=credentials[1], authority=self._authority,
                token_cache=msal.SerializableTokenCache(), http_client=self._http, instance_discovery=False,
            )
            self._app_credentials = credentials
        return self._app

    def _obtain(self, force: bool) -> AccessToken:
        from msal.exceptions import MsalServiceError

        stored = secret.load(PROVIDER, self._integration.tenant_id, self._integration.secret_ref)
        credentials = secret.client_credentials(PROVIDER, self._integration, stored)
        self._http.reset()
        try:
            app = self._application(credentials)
            if self._organisation:
                app.token_cache.deserialize(None)  # app tokens are kept in our memory, not in msal's
                result = app.acquire_token_for_client(scopes=list(APPLICATION_SCOPES))
            else:
                result = self._delegated(app, stored, force)
        except MsalServiceError:  # msal's answer to a 5xx from the token endpoint
            raise token_error(PROVIDER, None, self._http.last_status or 503, self._http.last_retry_after) from None
        except httpx.HTTPError:
            raise ProviderUnavailableError(PROVIDER, "token_transport") from None
        except ValueError:  # msal could not read the authority's OpenID configuration
            self._app = None
            raise ProviderUnavailableError(PROVIDER, "token_discovery") from None
        if not result or "error" in result:
            raise self._failure(result)
        if not self._organisation and app.token_cache.has_state_changed:
            kept = {k: v for k, v in stored.value.items() if k != "refresh_token"}
            secret.swap(stored, {**kept, CACHE_FIELD: app.token_cache.serialize()})
        lifetime = float(result.get("expires_in") or DEFAULT_LIFETIME_SECONDS)
        return AccessToken(value=result["access_token"], expires_at=time.time() + lifetime)

    @staticmethod
    def _delegated(app: Any, stored: secret.StoredSecret, force: bool) -> dict[str, Any] | None:
        cache = stored.value.get(CACHE_FIELD)
        app.token_cache.deserialize(cache if isinstance(cache, str) and cache else None)
        granted = stored.value.get("scopes")  # what the clinician consented to (the connect page keeps it)
        scopes = [str(s) for s in granted] if isinstance(granted, list) and granted else list(DELEGATED_SCOPES)
        accounts = app.get_accounts()
        if accounts:
            result: dict[str, Any] | None = app.acquire_token_silent_with_error(
                scopes, account=accounts[0], force_refresh=force)
            return result
        refresh_token = stored.value.get("refresh_token")
        if isinstance(refresh_token, str) and refresh_token:
            migrated: dict[str, Any] = app.acquire_token_by_refresh_token(refresh_token, scopes)
            return migrated
        return None

    def _failure(self, result: dict[str, Any] | None) -> ProviderError:
        if not result:  # no refresh token in the cache: nothing to refresh with
            return token_error(PROVIDER, "invalid_grant")
        code = result.get("error")
        return token_error(PROVIDER, code if isinstance(code, str) else None, self._http.last_status,
                           self._http.last_retry_after)
