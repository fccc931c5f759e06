"""Helpers for the ICS feed's integration tests: bookings relative to today, fetching through the
real handler, and DST dates that are always inside a default sync window."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from calsync.core.settings import get_settings
from calsync.domain.contract import AppointmentChanged, appointment_key
from calsync.domain.event import EventKey
from calsync.domain.model import ClientDisplay, Integration, PrivacySettings
from calsync.domain.privacy import render
from calsync.feed.target import IcsFeedProvider
from calsync.formats import ical
from calsync.services import engine
from calsync.store.appointments import utc_key
from devstack.local_api import LocalApi
from devstack.stack import LocalStack
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


SEED_PRIVACY = PrivacySettings(client_display=ClientDisplay.INITIALS, show_visit_type=True, show_notes=True)
SEED_ZONES = ("America/New_York", "America/Chicago")


def seeded_vevents(feed_id: str, tenant_id: str, count: int, now: dt.datetime) -> Iterator[tuple[str, str, str]]:
    """(appointment key, start key, VEVENT) for ``count`` realistic appointments, one every 53 minutes from
    tomorrow on, rendered as the feed's writer renders them."""
    for n in range(count):
        start = (now + dt.timedelta(minutes=53 * n + 60 * 24)).replace(second=0, microsecond=0)
        booked = appointment(tenant_id=tenant_id, appointment_id=f"apt-{n}", start=start.isoformat(),
                             end=(start + dt.timedelta(minutes=50)).isoformat(), timezone=SEED_ZONES[n % 2],
                             notes=f"Follow-up {n}: review plan, adjust dose, schedule labs.")
        event = render(booked, SEED_PRIVACY)
        assert event is not None
        text: str = ical.build_vevent(EventKey(feed_id, tenant_id, f"apt-{n}"), event, now).to_ical().decode()
        yield appointment_key(tenant_id, f"apt-{n}"), utc_key(booked.start), text


def seed_feed(stack: LocalStack, feed: Integration, count: int, now: dt.datetime) -> None:
    """Writes ``count`` VEVENTs straight into the feed's table (25 per BatchWriteItem) and leaves the feed
    state a real change would (a new version, both zones): a big feed without ``count`` engine syncs."""
    client, table = stack.client("dynamodb"), get_settings().feed_events_table
    batch: list[Any] = []
    for key, start, text in seeded_vevents(feed.integration_id, feed.tenant_id, count, now):
        item = {"feed_id": {"S": feed.integration_id}, "appointment_key": {"S": key}, "start_utc": {"S": start},
                "vevent": {"S": text}, "sequence": {"N": "1"}}
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            client.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})
    for zone in SEED_ZONES:
        IcsFeedProvider(feed)._touch(now, zone)
