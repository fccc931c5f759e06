"""The hour a fall-back night repeats and the hour a spring-forward night skips, on every calendar
calsync writes: each appointment must come back from the server (Radicale, the Google and Graph
simulators, the feed over HTTP) at exactly its instants. A wall-clock time names the first occurrence of
a repeated hour, so the second one has to be written some other way (``calsync.formats.clock``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from calsync.domain.contract import AppointmentChanged
from calsync.domain.model import PrivacySettings
from calsync.services import engine, feeds
from devstack.calendar_reader import parse_calendar, read_calendar
from devstack.clinicians import connect_caldav
from devstack.local_api import LocalApi
from devstack.oauth_clinicians import connect_google, connect_microsoft
from devstack.stack import LocalStack
from tests.support.feeds import booking, dst_days, fetch

NEW_YORK = ZoneInfo("America/New_York")
PRIVACY = PrivacySettings(show_visit_type=True)
Reader = Callable[[], set[tuple[dt.datetime, dt.datetime]]]


def utc(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def cases(tenant_id: str, practitioner_id: str) -> list[AppointmentChanged]:
    """Five appointments around the next two clock changes of New York, given as UTC instants."""
    spring, fall = dst_days(NEW_YORK)
    spans = [
        (utc(fall, 5, 30), 60),    # 01:30 EDT → 01:30 EST: the same wall clock at both ends
        (utc(fall, 6, 15), 30),    # 01:15 EST → 01:45 EST: the second 01:15
        (utc(fall, 5, 10), 30),    # 01:10 EDT → 01:40 EDT: the first occurrence
        (utc(spring, 6, 30), 60),  # 01:30 EST → 03:30 EDT: across the skipped hour
        (utc(spring, 7, 0), 30),   # 03:00 EDT → 03:30 EDT: just after it
    ]
    return [booking(tenant_id, f"dst-{n}", start.astimezone(NEW_YORK), minutes, practitioner_id=practitioner_id)
            for n, (start, minutes) in enumerate(spans)]


def instants(events: list[tuple[dt.datetime | dt.date, dt.datetime | dt.date]]) -> set[tuple[dt.datetime, dt.datetime]]:
    found = set()
    for start, end in events:
        assert isinstance(start, dt.datetime) and isinstance(end, dt.datetime)
        found.add((start.astimezone(dt.UTC), end.astimezone(dt.UTC)))
    return found


def caldav(stack: LocalStack, tenant_id: str) -> Reader:
    clinician = connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-dst", privacy=PRIVACY)
    return lambda: instants([(e.start, e.end) for e in read_calendar(clinician.calendar_url, clinician.username,
                                                                      clinician.password)])


def google(stack: LocalStack, tenant_id: str, sim: object) -> Reader:
    clinician = connect_google(stack, sim, tenant_id=tenant_id, practitioner_id="dr-dst",  # type: ignore[arg-type]
                               privacy=PRIVACY)
    return lambda: instants([(e.start, e.end) for e in clinician.calendar()])


def microsoft(stack: LocalStack, tenant_id: str, sim: object) -> Reader:
    clinician = connect_microsoft(stack, sim, tenant_id=tenant_id, practitioner_id="dr-dst",  # type: ignore[arg-type]
                                  privacy=PRIVACY)
    return lambda: instants([(e.start, e.end) for e in clinician.calendar()])


def feed(tenant_id: str, server: LocalApi) -> Reader:
    _, issued = feeds.create_feed(tenant_id, "dr-dst", privacy=PRIVACY, backfill=False)
    def read() -> set[tuple[dt.datetime, dt.datetime]]:
        document = fetch(server, issued.token).body.decode()
        return instants([(e.start, e.end) for e in parse_calendar("feed", document)])

    return read


@pytest.mark.parametrize("kind", ["caldav", "google", "microsoft", "feed"])
def test_repeated_and_skipped_hours_come_back_at_their_instants(
        kind: str, stack: LocalStack, tenant_id: str, request: pytest.FixtureRequest) -> None:
    if kind == "caldav":
        read = caldav(stack, tenant_id)
    elif kind == "google":
        read = google(stack, tenant_id, request.getfixturevalue("google_sim"))
    elif kind == "microsoft":
        read = microsoft(stack, tenant_id, request.getfixturevalue("microsoft_sim"))
    else:
        read = feed(tenant_id, request.getfixturevalue("deployment").api)
    booked = cases(tenant_id, "dr-dst")
    for change in booked:
        assert set(engine.handle_change(change).outcomes.values()) == {engine.Outcome.WRITTEN}
    assert read() == {(change.start.astimezone(dt.UTC), change.end.astimezone(dt.UTC)) for change in booked}
