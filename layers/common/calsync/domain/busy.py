"""Busy time: which of a clinician's own calendar events block their time in the EHR, and how.

A pull (``calsync.services.twoway``) reads each watched calendar into :class:`ExternalEvent` values (one per
event, or per instance of a recurring series); :func:`blocks_of` turns each into busy blocks or into
nothing, by these rules, in this order:

* calsync's own events (they carry our marker) are never busy time: nothing a calendar shows because calsync
  wrote it can come back as a block, so two-way sync cannot loop;
* cancelled events, events marked free (Google ``transparent``, Outlook ``free`` or ``workingElsewhere``,
  iCalendar ``TRANSP:TRANSPARENT``) and invitations the clinician declined are not busy;
* all-day events follow the integration's :class:`~calsync.domain.model.AllDayPolicy`; their days are
  dates (the end exclusive), placed in the calendar's own time zone;
* what leaves the calendar is start, end, all-day dates, a busy status and an opaque reference; titles and
  attendees only when the clinician opted in (:class:`~calsync.domain.model.BusySharing`);
* only the part of the calendar calsync looks at counts (:class:`Window`), and an event longer than
  :data:`LONGEST_BLOCK` becomes consecutive blocks of at most that length, so "who is busy between A and B"
  reads one bounded range.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.domain.model import AllDayPolicy, Integration

LONGEST_BLOCK = dt.timedelta(days=1)
"""A block never lasts longer (a longer event is several consecutive blocks): "who is busy between A and B"
reads the blocks starting in [A - LONGEST_BLOCK, B), one small range."""
WINDOW_PAST = dt.timedelta(days=1)
"""Busy time is read from a day ago (what is running now), to the integration's window ahead."""


class ShowAs(StrEnum):
    """How an event is marked on the calendar, in provider-neutral terms."""

    BUSY = "busy"
    TENTATIVE = "tentative"
    OUT_OF_OFFICE = "out_of_office"
    FREE = "free"


class BusyStatus(StrEnum):
    BUSY = "busy"
    TENTATIVE = "tentative"
    OUT_OF_OFFICE = "out_of_office"


@dataclass(frozen=True)
class Window:
    """The stretch of time calsync reads busy time in (UTC instants, end exclusive)."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, integration: Integration, now: dt.datetime) -> Window:
        day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(day - WINDOW_PAST, day + dt.timedelta(days=integration.window.future_days + 1))

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return start < self.end and end > self.start


@dataclass(frozen=True)
class ExternalEvent:
    """One event, or one instance of a recurring series, as a watched calendar holds it.

    ``source`` is the provider's identifier of the item (a Google instance id, a Graph event or occurrence
    id, a CalDAV resource URL); ``instance`` tells the instances of one CalDAV resource apart (their
    original start). ``marker`` is calsync's key when calsync wrote the event.
    """

    source: str
    start: dt.datetime
    end: dt.datetime
    instance: str = ""
    etag: str | None = None
    marker: str | None = None
    all_day: bool = False
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    show_as: ShowAs = ShowAs.BUSY
    cancelled: bool = False
    declined: bool = False
    title: str | None = None
    attendees: tuple[str, ...] = field(default_factory=tuple)
    zone: str | None = None
    """The time zone an all-day event's dates are in (the calendar's, or the event's own)."""

    @property
    def ours(self) -> bool:
        return self.marker is not None


@dataclass(frozen=True)
class BusyBlock:
    """Time a clinician is busy, as it leaves their calendar. ``block_id`` is opaque and stable: the same
    event (instance) always gives the same id, so a re-read never duplicates a block."""

    block_id: str
    calendar: str
    source: str
    start: dt.datetime
    end: dt.datetime
    status: BusyStatus
    all_day: bool = False
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    title: str | None = None
    attendees: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """What the block says, hashed: equal digests mean nothing to store or publish."""
        shown = {"start": self.start.isoformat(), "end": self.end.isoformat(), "status": self.status.value,
                 "all_day": self.all_day, "start_date": _iso(self.start_date), "end_date": _iso(self.end_date),
                 "title": self.title, "attendees": list(self.attendees)}
        return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:32]


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def calendar_tag(calendar: str) -> str:
    """A short, stable tag of a watched calendar (its blocks are stored under it)."""
    return hashlib.sha256(calendar.encode()).hexdigest()[:10]


def source_tag(source: str) -> str:
    """A short, stable tag of a provider item (all blocks of one item are stored under it)."""
    return hashlib.sha256(source.encode()).hexdigest()[:20]


def block_id(integration_id: str, calendar: str, source: str, instance: str = "", piece: int = 0) -> str:
    """32 hex characters, unguessable from the outside and telling nothing of the event."""
    raw = "\x1f".join((integration_id, calendar, source, instance, str(piece)))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def not_busy(event: ExternalEvent, policy: AllDayPolicy) -> str | None:
    """Why ``event`` is not busy time (a short reason), or None when it is."""
    if event.ours:
        return "ours"
    if event.cancelled:
        return "cancelled"
    if event.declined:
        return "declined"
    if event.all_day and policy is AllDayPolicy.NEVER:
        return "all_day"
    if event.show_as is ShowAs.FREE and not (event.all_day and policy is AllDayPolicy.ALWAYS):
        return "free"
    if event.end <= event.start:
        return "empty"
    return None


def status_of(event: ExternalEvent) -> BusyStatus:
    if event.show_as is ShowAs.TENTATIVE:
        return BusyStatus.TENTATIVE
    if event.show_as is ShowAs.OUT_OF_OFFICE:
        return BusyStatus.OUT_OF_OFFICE
    return BusyStatus.BUSY


def blocks_of(integration: Integration, calendar: str, event: ExternalEvent, window: Window) -> list[BusyBlock]:
    """The busy blocks ``event`` gives on ``calendar``: none, one, or consecutive pieces of a long event."""
    if not_busy(event, integration.all_day_busy) is not None or not window.overlaps(event.start, event.end):
        return []
    sharing = integration.busy_sharing
    blocks = []
    for piece, (start, end, first_day, last_day) in enumerate(_pieces(event)):
        block = BusyBlock(
            block_id=block_id(integration.integration_id, calendar, event.source, event.instance, piece),
            calendar=calendar, source=event.source, start=start, end=end, status=status_of(event),
            all_day=event.all_day, start_date=first_day, end_date=last_day,
            title=event.title if sharing.titles else None,
            attendees=event.attendees if sharing.attendees else ())
        if window.overlaps(block.start, block.end):
            blocks.append(block)
    return blocks


Piece = tuple[dt.datetime, dt.datetime, dt.date | None, dt.date | None]


def _pieces(event: ExternalEvent) -> list[Piece]:
    """``event`` cut into spans of at most :data:`LONGEST_BLOCK`: by whole days for an all-day event."""
    if event.all_day and event.start_date is not None and event.end_date is not None:
        days = LONGEST_BLOCK.days
        first, last = event.start_date, max(event.end_date, event.start_date + dt.timedelta(days=1))
        spans: list[Piece] = []
        while first < last:
            stop = min(last, first + dt.timedelta(days=days))
            spans.append((*day_span(first, stop, event.zone), first, stop))
            first = stop
        return spans
    start, end = event.start.astimezone(dt.UTC), event.end.astimezone(dt.UTC)
    timed: list[Piece] = []
    while start < end:
        stop = min(end, start + LONGEST_BLOCK)
        timed.append((start, stop, None, None))
        start = stop
    return timed


def day_span(start: dt.date, end: dt.date, zone: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The instants of an all-day event's dates (``end`` exclusive, at least one day) in the calendar's zone
    (UTC when the zone is unknown or not an IANA name)."""
    try:
        tz: dt.tzinfo = ZoneInfo(zone) if zone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        tz = dt.UTC
    end = max(end, start + dt.timedelta(days=1))
    return (dt.datetime.combine(start, dt.time(0), tz).astimezone(dt.UTC),
            dt.datetime.combine(end, dt.time(0), tz).astimezone(dt.UTC))
