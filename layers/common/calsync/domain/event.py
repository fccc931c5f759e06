"""What a calendar shows for one appointment, and how calsync names it on that calendar.

:class:`CalendarEvent` is the output of privacy rendering (``calsync.domain.privacy``); every writer
(CalDAV, Google, Microsoft, the ICS feed) writes exactly that. :class:`EventKey` is the identity of one
appointment on one integration's calendar: each writer derives its own idempotent identifier from it,
so a retried create after a lost response finds the first one instead of making a second.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

MARKER_PROPERTY = "X-CALSYNC-KEY"
"""Our events carry this (an iCalendar property, Google private extended property, Graph extended
property) so a two-way pull can recognise and skip them."""


@dataclass(frozen=True)
class CalendarEvent:
    """What a clinician's calendar shows for one appointment, after privacy rendering."""

    summary: str
    description: str
    location: str | None
    start: dt.datetime
    end: dt.datetime
    timezone: str
    all_day: bool
    url: str | None = None
    private: bool = True
    categories: tuple[str, ...] = field(default_factory=tuple)
    disclosed: frozenset[str] = field(default=frozenset(), compare=False)
    """Which of the appointment's fields this event shows (names from ``privacy.DISCLOSABLE``), decided
    by the rendering that built it: what the disclosure audit records. Not written anywhere."""
    reminder_minutes: int | None = None
    """A reminder this many minutes before the start (VALARM, Google reminder override, Graph reminder)."""


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
    def appointment_key(self) -> str:
        """The appointment's storage key (``tenant#appointment``, as ``contract.appointment_key``)."""
        return f"{self.tenant_id}#{self.appointment_id}"

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
