"""Wall-clock times that name exactly one instant.

A local time in the hour a fall-back night repeats (01:30 on 2027-11-07 in New York happens at 05:30 and
at 06:30 UTC) is ambiguous wherever a time is written as a wall-clock value plus a zone name — an
iCalendar ``TZID`` value (RFC 5545 §3.3.5 takes the first occurrence), a Graph ``dateTimeTimeZone``.
:func:`zoned` keeps the zone wherever it is unambiguous (so calendars show the practice's zone) and
falls back to UTC for the second occurrence only where needed. A converted instant never lands in the
hour a spring-forward night skips, so that case needs nothing.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def ambiguous(moment: dt.datetime, zone: ZoneInfo) -> bool:
    """Whether ``moment``'s wall-clock time in ``zone`` occurs twice (a repeated hour)."""
    local = moment.astimezone(zone)
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def zoned(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """``moment`` as local time in ``zone``, or in UTC when that local time occurs twice."""
    return moment.astimezone(dt.UTC) if ambiguous(moment, zone) else moment.astimezone(zone)
