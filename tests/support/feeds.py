"""Helpers for the ICS feed's integration tests: bookings relative to today, fetching through the
real handler, and DST dates that are always inside a default sync window."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from calsync.domain.contract import AppointmentChanged
from calsync.services import engine
from devstack.local_api import LocalApi
from tests.support.appointments import appointment

NEW_YORK = ZoneInfo("America/New_York")
_changes = itertools.count(1)


def today(zone: ZoneInfo = NEW_YORK) -> dt.date:
    return dt.datetime.now(zone).date()


def at(day: dt.date, hour: int, minute: int = 0, zone: ZoneInfo = NEW_YORK, fold: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone, fold=fold)


def booking(tenant_id: str, appointment_id: str, start: dt.datetime, minutes: int = 50,
            **overrides: Any) -> AppointmentChanged:
    """An appointment whose ordering key is newer than any booking made before it."""
    end = start.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "appointment_id": appointment_id,
        "start": start.isoformat(),
        "end": end.astimezone(start.tzinfo).isoformat(),
        "timezone": str(start.tzinfo),
        "updated_at": dt.datetime.now(dt.UTC).isoformat(),
        "version": next(_changes),
    }
    values.update(overrides)
    return appointment(**values)


def all_day(tenant_id: str, appointment_id: str, first: dt.date, days: int = 1,
            **overrides: Any) -> AppointmentChanged:
    last = first + dt.timedelta(days=days)
    return booking(tenant_id, appointment_id, at(first, 0), all_day=True,
                   end=at(last, 0).isoformat(), **overrides)


def apply(*changes: AppointmentChanged) -> None:
    for change in changes:
        result = engine.handle_change(change)
        assert not result.stale


def dst_days(zone: ZoneInfo = NEW_YORK) -> tuple[dt.date, dt.date]:
    """The next day the clocks go forward and the next day they go back (both within a year)."""
    spring = fall = None
    day = today(zone)
    for _ in range(370):
        day += dt.timedelta(days=1)
        before, after = at(day - dt.timedelta(days=1), 12, zone=zone), at(day, 12, zone=zone)
        offset_before, offset_after = before.utcoffset(), after.utcoffset()
        assert offset_before is not None and offset_after is not None
        if offset_after > offset_before and spring is None:
            spring = day
        if offset_after < offset_before and fall is None:
            fall = day
    assert spring is not None and fall is not None
    return spring, fall


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: dict[str, str]  # names in lower case
    wire: bytes  # as sent
    body: bytes  # after content decoding


def feed_url(api: LocalApi, token: str) -> str:
    return f"{api.base_url}/feeds/{token}.ics"


def fetch(server: LocalApi, token: str, method: str = "GET", **headers: str) -> Fetched:
    """One request through the real handler, with headers given as ``if_none_match="..."``."""
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    status, answer, wire = server.invoke(method, f"/feeds/{token}.ics", sent)
    lowered = {name.lower(): value for name, value in answer.items()}
    body = gzip.decompress(wire) if lowered.get("content-encoding") == "gzip" else wire
    return Fetched(status, lowered, wire, body)
