"""The provider protocol: what the engine needs from any calendar it writes to.

Every create is idempotent: the provider derives its own identifier from
:class:`~calsync.domain.event.EventKey`, so a retried create after a lost response finds the first one
instead of making a second. The ICS feed (``calsync.feed.target``) implements the same protocol over
DynamoDB instead of HTTP.
"""

from __future__ import annotations

from typing import Protocol

from calsync.domain.event import CalendarEvent, EventKey, Written


class CalendarProvider(Protocol):
    name: str

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        """Creates or replaces the event; ``known`` is what the ledger last recorded (None if nothing)."""
        ...

    def delete(self, key: EventKey, known: Written | None) -> None:
        """Removes the event; an event that is already gone counts as removed."""
        ...
