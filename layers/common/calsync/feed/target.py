"""The private ICS feed as a calendar provider: its "calendar" is the FeedEvents table.

``upsert`` renders the one VEVENT (``calsync.formats.ical``, the same code that writes CalDAV
bodies) and stores its bytes with the appointment's start, so serving the feed only joins bytes;
``delete`` removes them. Cancelled appointments are removed rather than kept as ``STATUS:CANCELLED``:
subscribed calendars (Google, Apple, Outlook, vdirsyncer) replace their copy with each download, so
an event that is gone from the feed is gone from every subscriber, while a cancelled one stays on the
calendar in many of them (Google shows it as if it were still booked) and keeps its details there.

``SEQUENCE`` comes from the time of the change (``ical.sequence_at``), so it keeps growing even when an
appointment is removed and later booked again; two changes within one second still get increasing
values, because a write never replaces a stored VEVENT whose SEQUENCE is not lower (a removed event
leaves a short-lived tombstone with its SEQUENCE for the same purpose).
"""

from __future__ import annotations

import datetime as dt

from calsync.core.errors import ProviderConflictError
from calsync.domain import integration_values
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.domain.model import Integration
from calsync.formats import ical
from calsync.store import feeds
from calsync.store.appointments import utc_key

NAME = "ics"
FEED_NAME_OPTION = integration_values.FEED_NAME
DEFAULT_FEED_NAME = "Appointments"
WRITE_ATTEMPTS = 3


def feed_name(integration: Integration) -> str:
    """The calendar name subscribers see (``options["feed_name"]``; never patient data)."""
    return integration.options.get(FEED_NAME_OPTION) or DEFAULT_FEED_NAME


def _sequence_hint(known: Written | None) -> int | None:
    if known is None or known.etag is None:
        return None
    try:
        return int(known.etag)
    except ValueError:
        return None


def _moment_after(now: dt.datetime, sequence: int | None) -> dt.datetime:
    """``now``, or the first second whose SEQUENCE is above ``sequence`` if ``now``'s is not."""
    if sequence is None or ical.sequence_at(now) > sequence:
        return now
    return now + dt.timedelta(seconds=sequence + 1 - ical.sequence_at(now))


class IcsFeedProvider:
    name = NAME

    def __init__(self, integration: Integration) -> None:
        self._integration = integration

    @property
    def feed_id(self) -> str:
        return self._integration.integration_id

    def _touch(self, now: dt.datetime, zone: str | None) -> None:
        window = self._integration.window
        feeds.touch(self.feed_id, self._integration.tenant_id, feed_name(self._integration), window.past_days,
                    window.future_days, now, zone=zone)

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        item_key = key.appointment_key
        expires = event.end + dt.timedelta(days=self._integration.window.past_days + 1)
        floor = _sequence_hint(known)
        for _ in range(WRITE_ATTEMPTS):
            moment = _moment_after(now, floor)
            vevent = ical.build_vevent(key, event, moment).to_ical().decode("utf-8")
            sequence = ical.sequence_at(moment)
            if feeds.save_event(self.feed_id, item_key, vevent, utc_key(event.start), sequence, expires):
                break
            floor = feeds.stored_sequence(self.feed_id, item_key)
        else:
            raise ProviderConflictError(NAME, "sequence_conflict")
        self._touch(now, None if event.all_day else event.timezone)
        return Written(external_id=key.uid, etag=str(sequence))

    def delete(self, key: EventKey, known: Written | None) -> None:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        feeds.delete_event(self.feed_id, key.appointment_key, now)
        self._touch(now, None)
