"""Recurring-series expansion for both simulators, by python-dateutil's RFC 5545 engine (not hand-written
rules): a series starting at a zone-aware ``DTSTART`` keeps its wall-clock time across daylight-saving
changes, as both providers expand in the series' own time zone. Infinite series are expanded up to a
horizon (both providers expand far ahead; the simulators stop at :data:`HORIZON_DAYS` from "now").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

HORIZON_DAYS = 730
MAX_OCCURRENCES = 5000
_PREFIXES = ("RRULE:", "EXRULE:", "RDATE", "EXDATE")
_DATE_UNTIL = re.compile(r"UNTIL=(\d{8})(?=;|$)")


def check_lines(lines: Sequence[str]) -> None:
    """Raises ValueError unless every line is an RRULE, EXRULE, RDATE or EXDATE property."""
    if not lines or any(not isinstance(line, str) or not line.upper().startswith(_PREFIXES) for line in lines):
        raise ValueError("recurrence lines must be RRULE, EXRULE, RDATE or EXDATE properties")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def occurrences(start: dt.datetime, lines: Sequence[str], until: dt.datetime) -> list[dt.datetime]:
    """The starts of a series' occurrences from ``start`` up to ``until`` (exclusive), in order.

    ``start`` is zone-aware for timed series and naive (midnight) for all-day ones; ``until`` is
    compared in the same kind. Raises ValueError for rules dateutil cannot read.
    """
    check_lines(lines)
    text = "\n".join(lines)
    if start.tzinfo is not None:  # a date-only UNTIL next to a zoned DTSTART: the end of that day, in UTC
        text = _DATE_UNTIL.sub(lambda m: f"UNTIL={m.group(1)}T235959Z", text)
    try:
        rules = rrulestr(text, dtstart=start, forceset=True, unfold=True, tzids=_zone)
        found: list[dt.datetime] = []
        for moment in rules:
            if moment >= until or len(found) >= MAX_OCCURRENCES:
                break
            found.append(moment)
    except (ValueError, TypeError) as problem:
        raise ValueError(f"unreadable recurrence: {problem}") from None
    return found


def horizon(now: float) -> dt.datetime:
    """How far ahead an infinite series is expanded, as a UTC instant."""
    return dt.datetime.fromtimestamp(now, dt.UTC) + dt.timedelta(days=HORIZON_DAYS)
