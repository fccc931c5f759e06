"""The feed document without a database: stored VEVENTs (as the ICS provider renders them) joined into
a VCALENDAR that five independent parsers must read identically and correctly."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from calsync.domain.event import EventKey
from calsync.domain.feed import FeedState
from calsync.domain.model import PrivacySettings
from calsync.domain.privacy import render
from calsync.feed import document
from calsync.formats import ical
from tests.support.appointments import appointment
from tests.support.ical_parsers import Span, assert_all_read, assert_wire_format, properties, unfolded

NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
NOW = dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.UTC)
STAMP = dt.datetime(2026, 1, 15, 8, 0, tzinfo=dt.UTC)


def state(**overrides: Any) -> FeedState:
    values: dict[str, Any] = {"feed_id": "feed_1", "tenant_id": "tenant-1", "name": "Dr One", "past_days": 30,
              "future_days": 365, "version": 7, "updated_at": STAMP, "zones": frozenset({"America/New_York"})}
    values.update(overrides)
    return FeedState(**values)


def vevent(appointment_id: str, start: dt.datetime, end: dt.datetime, zone: str = "America/New_York",
           all_day: bool = False, privacy: PrivacySettings | None = None, **details) -> str:
    booked = appointment(appointment_id=appointment_id, start=start.isoformat(), end=end.isoformat(),
                         timezone=zone, all_day=all_day, **details)
    event = render(booked, privacy or PrivacySettings())
    assert event is not None
    key = EventKey("feed_1", "tenant-1", appointment_id)
    text: str = ical.build_vevent(key, event, STAMP).to_ical().decode()
    return text


def uid(appointment_id: str) -> str:
    return EventKey("feed_1", "tenant-1", appointment_id).uid


def feed(vevents: list[str], **overrides) -> bytes:
    feed_state = state(**overrides)
    window = document.Window.of(feed_state, NOW)
    return document.assemble(document.header(feed_state, window), vevents)


# -- calendar properties ----------------------------------------------------------------------------------


def test_the_calendar_carries_the_properties_strict_clients_expect():
    body = feed([])
    assert body.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    for name, value in [("VERSION", "2.0"), ("PRODID", ical.PRODID), ("CALSCALE", "GREGORIAN"),
                        ("METHOD", "PUBLISH"), ("NAME", "Dr One"), ("X-WR-CALNAME", "Dr One"),
                        ("REFRESH-INTERVAL", "PT30M"), ("X-PUBLISHED-TTL", "PT30M")]:
        assert properties(body, name) == [value], name
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT30M\r\n" in body


def test_every_zone_in_use_has_exactly_one_vtimezone():
    ny = vevent("a-1", dt.datetime(2026, 3, 2, 9, tzinfo=NEW_YORK), dt.datetime(2026, 3, 2, 10, tzinfo=NEW_YORK))
    chicago = vevent("a-2", dt.datetime(2026, 3, 2, 9, tzinfo=CHICAGO), dt.datetime(2026, 3, 2, 10, tzinfo=CHICAGO),
                     zone="America/Chicago")
    body = feed([ny, chicago], zones=frozenset({"America/New_York", "America/Chicago"}))
    calendar = icalendar.Calendar.from_ical(body)
    defined = sorted(str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE"))
    used = sorted({str(e["DTSTART"].params["TZID"]) for e in calendar.walk("VEVENT")})
    assert defined == used == ["America/Chicago", "America/New_York"]


def test_a_feed_without_timed_events_has_no_vtimezone():
    assert b"VTIMEZONE" not in feed([], zones=frozenset())


# -- wire format ------------------------------------------------------------------------------------------


def test_lines_end_in_crlf_and_fold_at_75_octets_without_splitting_characters():
    long_name = "Praxis Müller-Lüdenscheidt · Kinder- und Jugendpsychiatrie " * 3
    event = vevent("a-1", dt.datetime(2026, 3, 2, 9, tzinfo=NEW_YORK), dt.datetime(2026, 3, 2, 10, tzinfo=NEW_YORK),
                   privacy=PrivacySettings(show_notes=True), notes="Überweisung — 東京 " * 40)
    body = feed([event], name=long_name.strip())
    assert_wire_format(body)
    assert properties(body, "X-WR-CALNAME") == [long_name.strip()]
    assert ("Überweisung — 東京 " * 40).strip() in unfolded(body)


# -- times ------------------------------------------------------------------------------------------------

DST_CASES = {
    # America/New_York springs forward on 2026-03-08 at 02:00 and falls back on 2026-11-01 at 02:00.
    "before-spring": dt.datetime(2026, 3, 6, 9, 0, tzinfo=NEW_YORK),
    "after-spring": dt.datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK),
    "first-hour-after-spring": dt.datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK),
    "repeated-hour-first": dt.datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=0),
    "repeated-hour-second": dt.datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=1),
    "after-fall": dt.datetime(2026, 11, 2, 9, 0, tzinfo=NEW_YORK),
}


def test_dst_transitions_land_on_the_right_instant_in_every_parser():
    vevents: list[str] = []
    expected: dict[str, Span] = {}
    for name, start in DST_CASES.items():
        end = (start.astimezone(dt.UTC) + dt.timedelta(minutes=50)).astimezone(NEW_YORK)
        vevents.append(vevent(name, start, end))
        expected[uid(name)] = (start.astimezone(dt.UTC), end.astimezone(dt.UTC))
    body = feed(vevents)
    assert_all_read(body, expected)
    # and on the right wall clock in the practice's zone
    calendar = icalendar.Calendar.from_ical(body)
    local = {str(e["UID"]): e.decoded("DTSTART").astimezone(NEW_YORK) for e in calendar.walk("VEVENT")}
    assert (local[uid("before-spring")].hour, local[uid("before-spring")].utcoffset()) == (9, dt.timedelta(hours=-5))
    assert (local[uid("after-spring")].hour, local[uid("after-spring")].utcoffset()) == (9, dt.timedelta(hours=-4))
    assert local[uid("repeated-hour-first")].utcoffset() == dt.timedelta(hours=-4)
    assert local[uid("repeated-hour-second")].utcoffset() == dt.timedelta(hours=-5)


def test_all_day_appointments_are_dates_with_an_exclusive_end():
    one_day = vevent("one-day", dt.datetime(2026, 3, 10, tzinfo=NEW_YORK), dt.datetime(2026, 3, 11, tzinfo=NEW_YORK),
                     all_day=True)
    # spans the spring-forward night: 47 hours long, still two calendar days
    over_dst = vevent("over-dst", dt.datetime(2026, 3, 7, tzinfo=NEW_YORK), dt.datetime(2026, 3, 9, tzinfo=NEW_YORK),
                      all_day=True)
    body = feed([one_day, over_dst], zones=frozenset())
    assert b"DTSTART;VALUE=DATE:20260310\r\n" in body and b"DTEND;VALUE=DATE:20260311\r\n" in body
    assert_all_read(body, {uid("one-day"): (dt.date(2026, 3, 10), dt.date(2026, 3, 11)),
                           uid("over-dst"): (dt.date(2026, 3, 7), dt.date(2026, 3, 9))})


# -- window and validators --------------------------------------------------------------------------------


def test_the_window_covers_whole_utc_days_from_past_to_future():
    window = document.Window.of(state(past_days=30, future_days=365), NOW)
    assert (window.first, window.end) == (dt.date(2026, 1, 2), dt.date(2027, 2, 2))
    assert (window.start_key, window.end_key) == ("2026-01-02T00:00:00Z", "2027-02-02T00:00:00Z")


def test_the_etag_follows_the_version_and_the_day_and_nothing_else():
    morning, evening = NOW.replace(hour=1), NOW.replace(hour=23)
    tag = document.etag(state(), document.Window.of(state(), morning))
    assert tag.startswith('W/"') and tag.endswith('"')
    assert document.etag(state(), document.Window.of(state(), evening)) == tag
    assert document.etag(state(version=8), document.Window.of(state(), morning)) != tag
    assert document.etag(state(), document.Window.of(state(), morning + dt.timedelta(days=1))) != tag
    assert document.etag(state(feed_id="feed_2"), document.Window.of(state(), morning)) != tag
    assert document.etag(state(), document.Window.of(state(past_days=7), morning)) != tag


@pytest.mark.parametrize(("updated_at", "expected"), [
    (dt.datetime(2026, 2, 1, 9, 30, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, 9, 30, tzinfo=dt.UTC)),
    (dt.datetime(2026, 1, 20, 9, 30, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, 0, 0, tzinfo=dt.UTC)),
])
def test_last_modified_is_the_last_change_or_the_last_move_of_the_window(updated_at, expected):
    assert document.last_modified(state(updated_at=updated_at), NOW) == expected
