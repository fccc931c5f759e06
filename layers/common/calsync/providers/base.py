"""The provider protocol: what the engine needs from any calendar it writes to.

Every create is idempotent: the provider derives its own identifier from :class:`EventKey`, so a
retried create after a lost response finds the first one instead of making a second.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from calsync.domain import CalendarEvent

MARKER_PROPERTY = "X-CALSYNC-KEY"
"""Our events carry this (an iCalendar property, Google private extended property, Graph extended
property) so a two-way pull can recognise and skip them."""


@dataclass(frozen=True)
class EventKey:
    """Identity of one appointment on one integration's calendar."""

    integration_id: str
    tenant_id: str
    appointment_id: str

    @property
    def digest(self) -> str:
        """32 lowercase hex characters: valid as a CalDAV resource name and as a Google event id
        (hex is a subset of base32hex), stable across retries, unguessable from the outside."""
        raw = f"{self.integration_id}\x1f{self.tenant_id}\x1f{self.appointment_id}".encode()
        return hashlib.sha256(raw).hexdigest()[:32]

    @property
    def uid(self) -> str:
        return f"{self.digest}@calsync"

    @property
    def marker(self) -> str:
        """The value of :data:`MARKER_PROPERTY` (no patient data, only our own digest)."""
        return self.digest


@dataclass(frozen=True)
class Written:
    """Where the provider keeps the event now."""

    external_id: str
    etag: str | None


class CalendarProvider(Protocol):
    name: str

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        """Creates or replaces the event; ``known`` is what the ledger last recorded (None if nothing)."""
        ...

    def delete(self, key: EventKey, known: Written | None) -> None:
        """Removes the event; an event that is already gone counts as removed."""
        ...
