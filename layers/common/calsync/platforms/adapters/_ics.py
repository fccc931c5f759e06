"""Platforms without webhooks whose calendar export (an ICS URL) is polled as an appointment source.

Each VEVENT is a booking: its ``UID`` the booking id, ``DTSTART``/``DTEND`` (or ``DURATION``) the time —
a ``DATE`` makes an all-day appointment, a floating time is read in the source's zone — ``LAST-MODIFIED``
and ``SEQUENCE`` the ordering key, ``STATUS:CANCELLED`` a cancellation. What an export calls its events
(``SUMMARY``) is free text that may name the client, so it is kept only as notes, which clinicians see
only if they switch notes on; ``LOCATION`` is the location. The export lists no staff member: one export
is one clinician's calendar (the source's ``default_practitioner_id``). A recurring event (``RRULE``) is
skipped and counted; the exports calsync targets list each appointment on its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from calsync.platforms.base import Booking, Platform, Reason, Rejected, Scheme
from calsync.platforms.source import Source

MAX_EVENTS = 5000


def _moment(value: Any, zone: str) -> tuple[dt.datetime, bool]:
    """An aware datetime and whether the value was a date (all day)."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(zone))), False
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), ZoneInfo(zone)), True
    raise ValueError("not a date or time")


def _text(component: Any, name: str) -> str | None:
    value = component.get(name)
    return str(value).strip() or None if value is not None else None


class IcsExport(Platform):
    scheme = Scheme.EXPORT

    def export(self, document: bytes, source: Source) -> list[Booking]:
        import icalendar  # here: only the sweeper's polls need it, never a webhook's cold start

        try:
            calendar = icalendar.Calendar.from_ical(document)
        except (ValueError, IndexError, KeyError):
            raise Rejected(Reason.MALFORMED, 400, ["not an iCalendar document"]) from None
        found = []
        for component in calendar.walk("VEVENT")[:MAX_EVENTS]:
            if component.get("RRULE") is not None or component.get("RECURRENCE-ID") is not None:
                continue
            booking = self._booking(component, source)
            if booking is not None:
                found.append(booking)
        return found

    def _booking(self, component: Any, source: Source) -> Booking | None:
        uid = _text(component, "UID")
        start_value = component.get("DTSTART")
        if uid is None or start_value is None:
            return None
        start, all_day = _moment(start_value.dt, source.timezone)
        if component.get("DTEND") is not None:
            end, _ = _moment(component.get("DTEND").dt, source.timezone)
        elif component.get("DURATION") is not None:
            end = start + component.get("DURATION").dt
        else:
            end = start + (dt.timedelta(days=1) if all_day else dt.timedelta(minutes=30))
        modified = component.get("LAST-MODIFIED")
        sequence = component.get("SEQUENCE")
        zone = getattr(start.tzinfo, "key", None)
        return Booking(
            booking_id=uid,
            status="cancelled" if _text(component, "STATUS") == "CANCELLED" else "scheduled",
            start=start,
            end=end,
            timezone=zone if all_day is False and zone else source.timezone,
            changed_at=_moment(modified.dt, "UTC")[0] if modified is not None else None,
            version=int(sequence) if sequence is not None else None,
            all_day=all_day,
            notes=_text(component, "SUMMARY"),
            location_name=_text(component, "LOCATION"),
        )
