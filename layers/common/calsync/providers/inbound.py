"""Reading calendars back (two-way and pull-only sync): what a pull needs from any calendar it watches.

* :class:`CalendarReader` — ``changes(calendar, cursor, window)``: with a cursor, what changed since it
  (Google ``syncToken``, Graph ``deltaLink``, a CalDAV ``sync-token``); without one, every event of the
  window (a *complete* read). Either way the answer carries the cursor to continue from. A cursor the
  provider no longer knows raises :class:`~calsync.core.errors.ProviderSyncStateLostError`: the caller
  reads the whole window again.
* :class:`CalendarWatcher` — push channels (Google ``events.watch``) and subscriptions (Graph): start one
  for a calendar, renew it where the provider can, stop it. CalDAV has no push; it is polled.

Readers normalise what they read into :class:`~calsync.domain.busy.ExternalEvent` (recurring series
expanded into instances, calsync's own events recognised by our marker); which of them are busy time is
``calsync.domain.busy``'s decision, not theirs. Like the writers, readers are handed their credentials
and endpoints and never touch DynamoDB, Secrets Manager or OAuth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from calsync.domain.busy import ExternalEvent, Window


@dataclass
class Changes:
    """One read of one calendar."""

    events: list[ExternalEvent] = field(default_factory=list)
    """Events (instances) that are new or changed, cancelled ones included as ``cancelled``; for a complete
    read, every event of the window."""
    removed: list[str] = field(default_factory=list)
    """Sources that are gone (deleted, or a whole CalDAV resource removed)."""
    cursor: str | None = None
    """Where the next read continues (None: the provider gave none; read in full next time)."""
    complete: bool = False
    """A full read of the window: anything known and not listed is gone."""

    @property
    def empty(self) -> bool:
        return not self.events and not self.removed


@dataclass(frozen=True)
class Watch:
    """A provider's push channel or subscription for one calendar, as the provider answered."""

    channel_id: str
    resource_id: str | None
    expires_at: dt.datetime


class CalendarReader(Protocol):
    name: str

    def changes(self, calendar: str, cursor: str | None, window: Window) -> Changes:
        """What changed on ``calendar`` since ``cursor``, or (``cursor`` None) everything in ``window``."""
        ...

    def event(self, calendar: str, source: str) -> ExternalEvent | None:
        """One event as the calendar holds it right now (None: deleted or cancelled)."""
        ...


class CalendarWatcher(Protocol):
    name: str

    def watch(self, calendar: str, channel_id: str, address: str, token: str, expires_at: dt.datetime) -> Watch:
        """Starts a channel that POSTs to ``address`` and proves itself with ``token``."""
        ...

    def renew(self, watch: Watch, expires_at: dt.datetime) -> Watch | None:
        """Extends the channel (None: this provider cannot; start a new one, then stop the old)."""
        ...

    def stop(self, watch: Watch) -> None:
        """Stops the channel; one that is already gone counts as stopped."""
        ...
