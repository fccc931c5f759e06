"""The feed document: which events it holds (the sync window), its validators, and the VCALENDAR
around the stored VEVENTs.

Serving joins bytes: the header (calendar properties and one VTIMEZONE per zone the feed's events
use) is rendered with icalendar once per container and kept, the VEVENTs were rendered when their
appointments changed, and the footer is a constant. icalendar is imported on the first full
render only, so neither a cold start nor a 304 pays for it.

Times keep the practice's IANA zone (``calsync.formats.ical`` writes ``DTSTART;TZID=...``), so the
VCALENDAR carries a VTIMEZONE for every zone used (``calsync.formats.vtimezone``); all-day
appointments are DATE values that need none. Keeping the zone, rather than writing UTC throughout,
lets a clinician's app show the practice's time zone on each event and keeps times right when the
practice's zone and the device's differ.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache

from calsync.domain.feed import FeedState
from calsync.domain.text import printable
from calsync.formats.vtimezone import vtimezone

FORMAT_VERSION = "2"
"""Part of every ETag: bump it when the document's layout changes so subscribers refetch."""

REFRESH_INTERVAL = dt.timedelta(minutes=30)
"""Asked of subscribers through REFRESH-INTERVAL and X-PUBLISHED-TTL. Cheap to honour: an unchanged
feed costs us two small reads and a 304."""

FOOTER = "END:VCALENDAR\r\n"


@dataclass(frozen=True)
class Window:
    """The UTC days whose events the feed holds: ``first`` inclusive, ``end`` exclusive. It moves at
    midnight UTC, so the document (and its ETag) changes at most once a day without a change of data."""

    first: dt.date
    end: dt.date

    @classmethod
    def of(cls, state: FeedState, now: dt.datetime) -> Window:
        today = now.astimezone(dt.UTC).date()
        return cls(first=today - dt.timedelta(days=state.past_days),
                   end=today + dt.timedelta(days=state.future_days + 1))

    @property
    def start_key(self) -> str:
        return f"{self.first.isoformat()}T00:00:00Z"

    @property
    def end_key(self) -> str:
        return f"{self.end.isoformat()}T00:00:00Z"


def etag(state: FeedState, window: Window) -> str:
    """A weak validator: equal for the same content in any content coding (gzip or not)."""
    basis = f"{FORMAT_VERSION}|{state.feed_id}|{state.version}|{window.first}|{window.end}"
    return f'W/"{hashlib.sha256(basis.encode()).hexdigest()[:32]}"'


def last_modified(state: FeedState, now: dt.datetime) -> dt.datetime:
    """The later of the last change and the last move of the window (today's midnight UTC)."""
    midnight = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(state.updated_at, midnight)


def header(state: FeedState, window: Window) -> str:
    """``BEGIN:VCALENDAR``, the calendar's properties and its VTIMEZONEs, folded, CRLF-terminated."""
    return _header(state.name, tuple(sorted(state.zones)), window.first.year - 1, window.end.year + 1)


@lru_cache(maxsize=128)
def _header(name: str, zones: tuple[str, ...], first_year: int, last_year: int) -> str:
    import icalendar

    from calsync.formats.ical import PRODID  # here: it imports the pydantic domain models

    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # The name was checked when the feed was stored; one stored before that check may still hold a
    # control character, and icalendar writes NAME and X-WR-CALNAME unescaped (its own guard against a
    # line break is an assert, gone under python -O): printable() and vText escaping make any name safe.
    shown = icalendar.vText(printable(name))
    calendar.add("name", shown)
    calendar.add("x-wr-calname", shown)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", icalendar.vDuration(REFRESH_INTERVAL))
    text: str = calendar.to_ical().decode("utf-8")
    if not text.endswith(FOOTER):
        raise ValueError("the calendar header did not render as one VCALENDAR")
    timezones = [vtimezone(zone, dt.date(first_year, 1, 1), dt.date(last_year, 12, 31)) for zone in zones]
    return "".join((text[: -len(FOOTER)], *timezones))


def assemble(head: str, vevents: list[str]) -> bytes:
    """The whole document: joining is all the per-request rendering there is."""
    return "".join((head, *vevents, FOOTER)).encode("utf-8")
