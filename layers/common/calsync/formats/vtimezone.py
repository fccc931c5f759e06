"""VTIMEZONE components built from the IANA database, one sub-component per transition.

Why not icalendar's ``Timezone.from_tzid``: it lists transitions as multi-valued ``RDATE`` and starts
each at the local time *after* the change. Parsers that read the definition instead of trusting the
TZID name (vobject through dateutil, Outlook) then miss every transition after the first and place
the spring-forward hour an hour late. RFC 5545 §3.6.5 gives the onset as the local time *before* the
change (``DTSTART:...T020000`` with ``TZOFFSETFROM:-0500`` for New York in March); writing one
``STANDARD``/``DAYLIGHT`` per transition with exactly that is understood by every parser we test.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

_DAY = dt.timedelta(days=1)


def _offset_text(offset: dt.timedelta) -> str:
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")


def _offset(zone: ZoneInfo, instant: dt.datetime) -> dt.timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _transition_in(zone: ZoneInfo, after: dt.datetime, before: dt.datetime) -> dt.datetime:
    """The first instant in (after, before] with ``before``'s offset (bisection to the second)."""
    target = _offset(zone, before)
    low, high = after, before
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if _offset(zone, middle) == target:
            high = middle
        else:
            low = middle
    return high


def transitions(zone: ZoneInfo, first: dt.date, last: dt.date) -> list[dt.datetime]:
    """UTC instants where ``zone``'s offset changes between ``first`` and ``last`` (both UTC days)."""
    found = []
    day = dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC)
    end = dt.datetime(last.year, last.month, last.day, tzinfo=dt.UTC)
    previous = _offset(zone, day)
    while day < end:
        following = day + _DAY
        current = _offset(zone, following)
        if current != previous:
            found.append(_transition_in(zone, day, following))
            previous = current
        day = following
    return found


def _component(zone: ZoneInfo, onset: dt.datetime, before: dt.timedelta, after: dt.timedelta) -> list[str]:
    local = onset.astimezone(zone)
    kind = "DAYLIGHT" if local.dst() else "STANDARD"
    return [
        f"BEGIN:{kind}",
        f"DTSTART:{(onset + before).replace(tzinfo=None):%Y%m%dT%H%M%S}",
        f"TZNAME:{local.tzname()}",
        f"TZOFFSETFROM:{_offset_text(before)}",
        f"TZOFFSETTO:{_offset_text(after)}",
        f"END:{kind}",
    ]


@lru_cache(maxsize=64)
def vtimezone(name: str, first: dt.date, last: dt.date) -> str:
    """The VTIMEZONE for ``name`` valid from ``first`` to ``last``: CRLF lines, none over 75 octets."""
    zone = ZoneInfo(name)
    # a day early, so the first definition covers all of ``first`` whatever the zone's offset
    start = dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC) - _DAY
    initial = _offset(zone, start)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{name}", *_component(zone, start, initial, initial)]
    before = initial
    for instant in transitions(zone, first, last):
        after = _offset(zone, instant)
        lines += _component(zone, instant, before, after)
        before = after
    lines.append("END:VTIMEZONE")
    if any(len(line.encode()) > 75 for line in lines):  # not an assert: python -O would let it through
        raise ValueError("a VTIMEZONE line would need folding: is the zone name a real one?")
    return "\r\n".join(lines) + "\r\n"
