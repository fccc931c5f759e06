"""Moments as booking platforms write them, read into aware datetimes.

Every helper raises ``ValueError`` on anything it cannot read; adapters turn that into a ``malformed``
refusal (calsync.platforms.mapping.readable), so a platform's odd value never escapes as a crash.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def instant(value: object) -> dt.datetime:
    """An RFC 3339 / ISO 8601 moment with an offset or ``Z`` (``+0100`` is read as ``+01:00``)."""
    if not isinstance(value, str) or not value:
        raise ValueError("not a timestamp")
    text = _OFFSET_WITHOUT_COLON.sub(r"\1:\2", value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("timestamp without an offset")
    return moment


def local(value: object, zone: str) -> dt.datetime:
    """A wall-clock time without an offset (``2026-11-24 09:30:00`` or ISO), in ``zone``; an offset,
    when present, wins."""
    if not isinstance(value, str) or not value:
        raise ValueError("not a timestamp")
    text = value.strip().replace("Z", "+00:00")
    for pattern in ("%d-%b-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=ZoneInfo(zone))
        except ValueError:
            continue
    moment = dt.datetime.fromisoformat(_OFFSET_WITHOUT_COLON.sub(r"\1:\2", text))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(zone))


def epoch_seconds(value: object) -> dt.datetime:
    """Seconds since the epoch (a number or its decimal text)."""
    return dt.datetime.fromtimestamp(_number(value), dt.UTC)


def epoch_millis(value: object) -> dt.datetime:
    """Milliseconds since the epoch (a number or its decimal text)."""
    return dt.datetime.fromtimestamp(_number(value) / 1000, dt.UTC)


def _number(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\d{1,16}(\.\d+)?", value.strip()):
        return float(value)
    raise ValueError("not a number")


def clock_time(day: object, hhmm: object, zone: str) -> dt.datetime:
    """A date (``YYYY-MM-DD``) and a time of day written as an HHMM integer (``930`` is 09:30)."""
    if not isinstance(day, str):
        raise ValueError("not a date")
    minutes = int(str(hhmm))
    hours, minute = divmod(minutes, 100)
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hours, minute), ZoneInfo(zone))
