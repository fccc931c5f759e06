"""Moments as DynamoDB keeps them: whole seconds since the epoch (numbers sort and work with TTL)."""

from __future__ import annotations

import datetime as dt
import time
from typing import overload


def epoch(moment: dt.datetime | None = None) -> int:
    """Seconds since the epoch of ``moment`` (of now, when None)."""
    return int(moment.timestamp()) if moment is not None else int(time.time())


@overload
def moment(seconds: float) -> dt.datetime: ...
@overload
def moment(seconds: None) -> None: ...
@overload
def moment(seconds: float | None) -> dt.datetime | None: ...


def moment(seconds: float | None) -> dt.datetime | None:
    """The UTC datetime of a stored number of seconds; None stays None."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC) if seconds is not None else None
