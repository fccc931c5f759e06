"""Which writer keeps an integration's calendar, and everything it needs: the one place that puts a
provider together with its credentials (an OAuth token source, a CalDAV password) and its endpoints
(deployment settings, never integration data).

Provider and OAuth modules are imported on first use, so a cold start pays only for the providers it
meets; instances are kept warm per integration and calendar.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from calsync.aws import secret_store
from calsync.core.errors import ConfigurationError
from calsync.core.settings import get_settings
from calsync.domain.model import Integration, Provider
from calsync.http.bearer import TokenSource
from calsync.providers.base import CalendarProvider
from calsync.services.provider_log import LoggedProvider

Factory = Callable[[Integration], CalendarProvider]

_overrides: dict[Provider, Factory] = {}
_instances: dict[tuple[str, str], CalendarProvider] = {}
_lock = threading.Lock()


def caldav_credentials(integration: Integration) -> tuple[str, str]:
    """The CalDAV username and app-specific password in the integration's secret."""
    if not integration.secret_ref:
        raise ConfigurationError("caldav integration has no secret reference")
    secret = secret_store.read(integration.tenant_id, integration.secret_ref, get_settings().secret_cache_seconds)
    username, password = secret.get("username"), secret.get("password")
    if not (isinstance(username, str) and username and isinstance(password, str) and password):
        raise ConfigurationError("caldav secret needs username and password")
    return username, password


def _caldav(integration: Integration) -> CalendarProvider:
    from calsync.providers.caldav import CalDavProvider

    return CalDavProvider(integration, credentials=lambda: caldav_credentials(integration),
                          local_development=get_settings().local_development)


def token_source(integration: Integration) -> TokenSource:
    """A new OAuth token source for a Google or Microsoft integration, on the deployment's endpoints."""
    from calsync.http.bearer import shared_client

    settings = get_settings()
    if integration.provider is Provider.GOOGLE:
        from calsync.oauth.google import GoogleTokenSource

        return GoogleTokenSource(integration, lambda: shared_client("google"), token_uri=settings.google_token_uri)
    if integration.provider is Provider.MICROSOFT:
        from calsync.oauth.microsoft import MicrosoftTokenSource
        from calsync.providers.microsoft import ORGANISATION, graph_mode

        return MicrosoftTokenSource(integration, lambda: shared_client("microsoft"),
                                    organisation=graph_mode(integration) == ORGANISATION,
                                    login_base=settings.microsoft_login_base)
    raise ConfigurationError(f"{integration.provider.value} integrations have no OAuth tokens")


def _google(integration: Integration) -> CalendarProvider:
    from calsync.providers.google import GoogleCalendarProvider

    return GoogleCalendarProvider(integration, token_source(integration), api_base=get_settings().google_api_base)


def _microsoft(integration: Integration) -> CalendarProvider:
    from calsync.providers.microsoft import MicrosoftGraphProvider

    return MicrosoftGraphProvider(integration, token_source(integration), api_base=get_settings().graph_api_base)


def _feed(integration: Integration) -> CalendarProvider:
    from calsync.feed.target import IcsFeedProvider

    return IcsFeedProvider(integration)


_FACTORIES: dict[Provider, Factory] = {
    Provider.CALDAV: _caldav,
    Provider.GOOGLE: _google,
    Provider.MICROSOFT: _microsoft,
    Provider.ICS: _feed,
}


def provider_for(integration: Integration) -> CalendarProvider:
    """The (warm) provider instance for this integration and its current calendar, each write logged
    with its duration (``provider_log``)."""
    cache_key = (integration.integration_id, integration.calendar_id)
    with _lock:
        instance = _instances.get(cache_key)
        if instance is None:
            factory = _overrides.get(integration.provider) or _FACTORIES[integration.provider]
            instance = _instances[cache_key] = LoggedProvider(factory(integration), integration)
        return instance


def build(integration: Integration) -> CalendarProvider:
    """A new provider for this integration, as the deployed code builds it (not the warm one)."""
    return _FACTORIES[integration.provider](integration)


def override(provider: Provider, factory: Factory | None) -> None:
    """Replaces a provider's factory (tests, the local demo); None restores the default."""
    with _lock:
        if factory is None:
            _overrides.pop(provider, None)
        else:
            _overrides[provider] = factory
        _instances.clear()


def forget(integration_id: str | None = None) -> None:
    """Drops warm instances (after a reconnect, new credentials must be read)."""
    with _lock:
        for key in [k for k in _instances if integration_id is None or k[0] == integration_id]:
            del _instances[key]
