"""iCalendar for one calendar event (CalDAV bodies and ICS feed entries).

Uses icalendar (imported lazily: it costs ~70 ms at cold start). Times carry their IANA zone with a
matching VTIMEZONE; all-day events use DATE values with an exclusive end; a reminder is a DISPLAY
VALARM. No ATTENDEE or ORGANIZER is ever written: patients are never attendees.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from calsync.domain.event import MARKER_PROPERTY, CalendarEvent, EventKey
from calsync.domain.text import printable
from calsync.formats.clock import zoned
from calsync.formats.vtimezone import vtimezone

PRODID = "-//calsync//calendar sync//EN"
_SEQUENCE_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def sequence_at(moment: dt.datetime) -> int:
    """A SEQUENCE that grows with every rewrite without a stored counter: seconds since 2024."""
    return max(0, int((moment - _SEQUENCE_EPOCH).total_seconds()))


def build_vevent(key: EventKey, event: CalendarEvent, now: dt.datetime) -> Any:
    """The VEVENT component for ``event`` (an ``icalendar.Event``)."""
    import icalendar

    vevent = icalendar.Event()
    vevent.add("uid", key.uid)
    vevent.add("dtstamp", now.astimezone(dt.UTC))
    vevent.add("last-modified", now.astimezone(dt.UTC))
    vevent.add("sequence", sequence_at(now))
    if event.all_day:
        zone = ZoneInfo(event.timezone)
        vevent.add("dtstart", event.start.astimezone(zone).date())
        vevent.add("dtend", event.end.astimezone(zone).date())
    else:
        zone = ZoneInfo(event.timezone)
        vevent.add("dtstart", zoned(event.start, zone))
        vevent.add("dtend", zoned(event.end, zone))
    # printable(): the contract already refuses control characters; this keeps any that got past it
    # (a value stored before the rule) out of the content lines, where icalendar would write them raw
    vevent.add("summary", printable(event.summary))
    vevent.add("description", printable(event.description, keep_line_breaks=True))
    if event.location:
        vevent.add("location", printable(event.location))
    if event.url:
        vevent.add("url", printable(event.url).replace(" ", "%20"))
    vevent.add("class", "PRIVATE" if event.private else "PUBLIC")
    vevent.add("transp", "OPAQUE")
    vevent.add("status", "CONFIRMED")
    vevent.add(MARKER_PROPERTY, key.marker)
    if event.reminder_minutes is not None:
        vevent.add_component(_alarm(event))
    return vevent


def _alarm(event: CalendarEvent) -> Any:
    """A display VALARM ``reminder_minutes`` before the start (RFC 5545 §3.6.6: DISPLAY needs a
    DESCRIPTION; the rendered title, already on the event, is all it shows)."""
    import icalendar

    assert event.reminder_minutes is not None
    alarm = icalendar.Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", event.summary)
    alarm.add("trigger", -dt.timedelta(minutes=event.reminder_minutes))
    return alarm


def calendar_object(key: EventKey, event: CalendarEvent, now: dt.datetime | None = None) -> bytes:
    """A complete VCALENDAR holding one VEVENT and the VTIMEZONE it needs (a CalDAV resource body).

    The VTIMEZONE comes from :mod:`calsync.formats.vtimezone` (one component per transition of the
    event's years), which every parser we test reads right, unlike icalendar's RDATE-based one.
    """
    vevent: bytes = build_vevent(key, event, now or dt.datetime.now(dt.UTC)).to_ical()
    timezone = ""
    if not event.all_day and event.timezone not in ("UTC", "Etc/UTC"):
        first, last = event.start.date(), event.end.date()
        timezone = vtimezone(event.timezone, dt.date(first.year, 1, 1), dt.date(last.year, 12, 31))
    head = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{PRODID}\r\n{timezone}"
    return head.encode() + vevent + b"END:VCALENDAR\r\n"
