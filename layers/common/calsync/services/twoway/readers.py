"""Which reader reads an integration's calendars back, and which watcher keeps its push channels: the
composition root of two-way sync, as ``calsync.services.writers`` is for writing — credentials (an OAuth
token source, a CalDAV password) and endpoints (deployment settings) are put together here, and nowhere else.

Instances are kept warm per integration, like the writers; :func:`override` lets tests and the local demo
wrap them (faults, counting).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from calsync.core.settings import get_settings
from calsync.domain import integration_values
from calsync.domain.model import Integration, Provider
from calsync.services import writers

if TYPE_CHECKING:
    from calsync.providers.inbound import CalendarReader, CalendarWatcher

ZONE_OPTION = integration_values.CALDAV_ZONE
"""CalDAV integrations: the zone floating times and all-day dates are placed in (else the calendar's)."""

ReaderFactory = Callable[[Integration], "CalendarReader"]

_overrides: dict[Provider, ReaderFactory] = {}
_instances: dict[str, CalendarReader] = {}
_lock = threading.Lock()


def _google(integration: Integration) -> CalendarReader:
    from calsync.providers.google_reader import GoogleCalendarReader

    return GoogleCalendarReader(writers.token_source(integration), api_base=get_settings().google_api_base)


def _microsoft(integration: Integration) -> CalendarReader:
    from calsync.providers.microsoft_reader import MicrosoftGraphReader

    return MicrosoftGraphReader(integration, writers.token_source(integration),
                                api_base=get_settings().graph_api_base)


def _caldav(integration: Integration) -> CalendarReader:
    from calsync.providers.caldav import CalDavSession
    from calsync.providers.caldav_reader import CalDavReader

    credentials = writers.caldav_credentials(integration)
    session = CalDavSession(lambda: credentials, local_development=get_settings().local_development)
    owner = frozenset({credentials[0]} if "@" in credentials[0] else ())
    return CalDavReader(session, zone=integration.options.get(ZONE_OPTION), owner_addresses=owner)


_FACTORIES: dict[Provider, ReaderFactory] = {Provider.GOOGLE: _google, Provider.MICROSOFT: _microsoft,
                                             Provider.CALDAV: _caldav}


def readable(integration: Integration) -> bool:
    """Whether calsync can read this kind of calendar back (an ICS feed is written only)."""
    return integration.provider in _FACTORIES


def reader_for(integration: Integration) -> CalendarReader:
    """The (warm) reader of this integration's calendars."""
    with _lock:
        instance = _instances.get(integration.integration_id)
        if instance is None:
            factory = _overrides.get(integration.provider) or _FACTORIES[integration.provider]
            instance = _instances[integration.integration_id] = factory(integration)
        return instance


def watcher_for(integration: Integration) -> CalendarWatcher | None:
    """The push-channel side of the reader; None for CalDAV (polled) and any reader that cannot watch."""
    if integration.provider not in (Provider.GOOGLE, Provider.MICROSOFT):
        return None
    reader = reader_for(integration)
    return reader if hasattr(reader, "watch") else None  # type: ignore[return-value]


def build(integration: Integration) -> CalendarReader:
    """A new reader, as the deployed code builds it (not the warm one; tests wrap it)."""
    return _FACTORIES[integration.provider](integration)


def override(provider: Provider, factory: ReaderFactory | None) -> None:
    with _lock:
        if factory is None:
            _overrides.pop(provider, None)
        else:
            _overrides[provider] = factory
        _instances.clear()


def forget(integration_id: str | None = None) -> None:
    with _lock:
        for key in [k for k in _instances if integration_id is None or k == integration_id]:
            del _instances[key]
