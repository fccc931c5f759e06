"""What each function needs for its invocations, made once at init, so the first invocation costs what a warm
one does. Each handler calls its function at import (the feed's is ``calsync.feed.cache.warm``).

Every change needs the deployed engine, the DynamoDB client (one, for every table), the STS client that opens
each tenant's secrets session and the pooled HTTP clients: those are always made at init. Each provider
module, with its OAuth library (google-auth, msal) and iCalendar, is needed by the changes to that kind of
calendar only: made at init when the init is the one a SnapStart snapshot captures (it then costs no request
at all), else on first use, so an environment that never writes to Outlook never pays for msal.

Nothing here sends a request: clients are created, no connection is opened (``calsync.core.snapshot``).
"""

from __future__ import annotations

import importlib

from calsync.aws import tenant_session
from calsync.core import snapshot
from calsync.core.settings import get_settings
from calsync.http.bearer import shared_client
from calsync.http.guarded import shared_guarded_client
from calsync.services import engine
from calsync.store import tables

PROVIDER_MODULES = ("calsync.providers.caldav", "calsync.providers.google", "calsync.providers.microsoft",
                    "calsync.oauth.google", "calsync.oauth.microsoft", "calsync.feed.target")
"""Imported by the writers on the first change to each kind of calendar: at init instead."""
LIBRARIES = ("icalendar", "google.auth.transport", "google.oauth2.credentials", "msal")
"""What those modules import on the first token refresh or the first iCalendar body."""
POOLED_CLIENTS = ("google", "microsoft")
"""The bearer-token providers' pooled clients; CalDAV's is the guarded one (``http.guarded``)."""


def changes(everything: bool | None = None) -> None:
    """The change worker (and everything the sweeper shares with it). ``everything``: the provider modules
    and their libraries too (by default, when a snapshot is being captured)."""
    engine.default()
    tables.warm()
    tenant_session.warm()
    for provider in POOLED_CLIENTS:
        shared_client(provider)
    settings = get_settings()
    shared_guarded_client(settings.provider_timeout_seconds, allow_loopback=settings.local_development)
    if snapshot.capturing() if everything is None else everything:
        for name in (*PROVIDER_MODULES, *LIBRARIES):
            importlib.import_module(name)


def sweeps(everything: bool | None = None) -> None:
    """The retry sweeper: what a change needs, since every job syncs through the engine."""
    changes(everything)
