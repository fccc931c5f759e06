"""Shared by the feed tests: five independent iCalendar parsers, each reduced to the same summary.

Each parser gives ``{uid: (start, end)}`` with timed values in UTC and all-day values as dates, so a
test can demand that all of them read the feed the same way, and read it right.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import icalendar
import ics
import recurring_ical_events
import vobject
from ical.calendar_stream import IcsCalendarStream

Moment = dt.datetime | dt.date
Span = tuple[Moment, Moment]


def _norm(value: Any) -> Moment:
    if isinstance(value, dt.datetime):
        assert value.tzinfo is not None, "a floating time in the feed"
        return value.astimezone(dt.UTC)
    assert isinstance(value, dt.date)
    return value


def _icalendar(body: bytes) -> dict[str, Span]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(e["UID"]): (_norm(e.decoded("DTSTART")), _norm(e.decoded("DTEND"))) for e in calendar.walk("VEVENT")}


def _vobject(body: bytes) -> dict[str, Span]:
    calendar = vobject.readOne(body.decode("utf-8"))
    events = getattr(calendar, "vevent_list", [])
    return {e.uid.value: (_norm(e.dtstart.value), _norm(e.dtend.value)) for e in events}


def _ics(body: bytes) -> dict[str, Span]:
    with warnings.catch_warnings():
        # ics 0.7 passes re.split's maxsplit positionally, which Python 3.13 deprecates
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ics\.")
        calendar = ics.Calendar(body.decode("utf-8"))
    spans: dict[str, Span] = {}
    for event in calendar.events:
        if event.all_day:
            spans[event.uid] = (event.begin.date(), event.end.date())
        else:
            spans[event.uid] = (_norm(event.begin.datetime), _norm(event.end.datetime))
    return spans


def _ical(body: bytes) -> dict[str, Span]:
    calendar = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    return {str(e.uid): (_norm(e.dtstart), _norm(e.dtend)) for e in calendar.events}


def _recurring(body: bytes) -> dict[str, Span]:
    calendar = icalendar.Calendar.from_ical(body)
    events = recurring_ical_events.of(calendar).between(dt.date(1990, 1, 1), dt.date(2100, 1, 1))
    return {str(e["UID"]): (_norm(e.decoded("DTSTART")), _norm(e.decoded("DTEND"))) for e in events}


PARSERS: dict[str, Callable[[bytes], dict[str, Span]]] = {
    "icalendar": _icalendar,
    "vobject": _vobject,
    "ics": _ics,
    "ical": _ical,
    "recurring-ical-events": _recurring,
}


def parse_everywhere(body: bytes) -> dict[str, dict[str, Span]]:
    """Every parser's reading of ``body``; a parser that rejects it fails the test with its error."""
    return {name: parse(body) for name, parse in PARSERS.items()}


def assert_all_read(body: bytes, expected: Mapping[str, Span]) -> None:
    for name, spans in parse_everywhere(body).items():
        difference = sorted(set(spans.items()) ^ set(expected.items()))
        assert spans == expected, f"{name} read the feed differently: {difference}"


def assert_wire_format(body: bytes) -> None:
    """CRLF line endings only, no line over 75 octets, and folds never split a UTF-8 character."""
    assert body.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in body.replace(b"\r\n", b""), "a bare LF"
    assert b"\r" not in body.replace(b"\r\n", b""), "a bare CR"
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, f"line of {len(line)} octets"
        line.decode("utf-8")


def unfolded(body: bytes) -> str:
    """The content with folds undone and text escapes removed, for searching values in it."""
    text = body.decode("utf-8").replace("\r\n ", "").replace("\r\n\t", "")
    return re.sub(r"\\([,;\\nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def properties(body: bytes, name: str) -> list[str]:
    """Values of every ``name`` property line (unfolded), in document order."""
    prefix = name.upper()
    values = []
    for line in unfolded(body).split("\r\n"):
        head, _, value = line.partition(":")
        if head.split(";")[0].upper() == prefix:
            values.append(value)
    return values
