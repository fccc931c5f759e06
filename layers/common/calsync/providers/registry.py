"""Which provider writes an integration's calendar. Provider modules are imported on first use so a
cold start pays only for the providers it meets; instances are kept warm per integration."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

from calsync.domain import Integration, Provider
from calsync.providers.base import CalendarProvider

Factory = Callable[[Integration], CalendarProvider]

_FACTORIES: dict[Provider, str] = {
    Provider.CALDAV: "calsync.providers.caldav:CalDavProvider",
    Provider.GOOGLE: "calsync.providers.google:GoogleCalendarProvider",
    Provider.MICROSOFT: "calsync.providers.microsoft:MicrosoftGraphProvider",
    Provider.ICS: "calsync.providers.ics:IcsFeedProvider",
}
_overrides: dict[Provider, Factory] = {}
_instances: dict[tuple[str, str], CalendarProvider] = {}
_lock = threading.Lock()


def _factory(provider: Provider) -> Factory:
    if provider in _overrides:
        return _overrides[provider]
    module_name, _, attribute = _FACTORIES[provider].partition(":")
    factory: Factory = getattr(importlib.import_module(module_name), attribute)
    return factory


def provider_for(integration: Integration) -> CalendarProvider:
    """The (warm) provider instance for this integration and its current calendar."""
    cache_key = (integration.integration_id, integration.calendar_id)
    with _lock:
        instance = _instances.get(cache_key)
        if instance is None:
            instance = _factory(integration.provider)(integration)
            _instances[cache_key] = instance
        return instance


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
