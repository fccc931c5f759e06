"""VTIMEZONE definitions that a parser which trusts the definition (vobject, via dateutil) reads exactly
as the IANA database: every local time around every transition maps to the same instant."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import vobject

from calsync.formats.vtimezone import transitions, vtimezone

FIRST, LAST = dt.date(2025, 1, 1), dt.date(2028, 12, 31)
ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/St_Johns", "Pacific/Chatham", "Africa/Casablanca", "America/Santiago"]


def unambiguous(local: dt.datetime) -> bool:
    """A wall time that exists exactly once (not skipped by a spring-forward, not repeated by a fall-back)."""
    zone = local.tzinfo
    assert isinstance(zone, ZoneInfo)
    round_trip = local.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
    return round_trip == local.replace(tzinfo=None) and local.utcoffset() == local.replace(fold=1).utcoffset()


def wall_times(zone: ZoneInfo) -> list[dt.datetime]:
    """Hourly wall times around every transition, plus noon every ten days."""
    moments = [dt.datetime.combine(FIRST + dt.timedelta(days=d), dt.time(12), zone) for d in range(0, 1450, 10)]
    for instant in transitions(zone, FIRST, LAST):
        local = instant.astimezone(zone).replace(tzinfo=None, fold=0)
        moments += [(local + dt.timedelta(minutes=30 * k)).replace(tzinfo=zone) for k in range(-6, 7)]
    return [moment for moment in moments if unambiguous(moment)]


@pytest.mark.parametrize("name", ZONES)
def test_a_definition_reading_parser_agrees_with_the_iana_database(name):
    zone = ZoneInfo(name)
    moments = wall_times(zone)
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:{i}\r\nDTSTAMP:20250101T000000Z\r\n"
        f"DTSTART;TZID={name}:{moment:%Y%m%dT%H%M%S}\r\nEND:VEVENT\r\n" for i, moment in enumerate(moments))
    text = (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{vtimezone(name, FIRST, LAST)}"
            f"{events}END:VCALENDAR\r\n")
    parsed = {int(e.uid.value): e.dtstart.value for e in vobject.readOne(text).vevent_list}
    wrong = [(moments[i], value) for i, value in parsed.items()
             if value.astimezone(dt.UTC) != moments[i].astimezone(dt.UTC)]
    assert len(parsed) == len(moments) and not wrong


def test_onsets_are_the_local_time_before_the_change():
    text = vtimezone("America/New_York", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    spring = "BEGIN:DAYLIGHT\r\nDTSTART:20260308T020000\r\nTZNAME:EDT\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\n"
    fall = "BEGIN:STANDARD\r\nDTSTART:20261101T020000\r\nTZNAME:EST\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n"
    assert spring in text and fall in text
    assert "RDATE" not in text and "RRULE" not in text


def test_a_zone_without_transitions_has_one_standard_definition():
    text = vtimezone("Asia/Kolkata", FIRST, LAST)
    assert text.count("BEGIN:STANDARD") == 1 and "DAYLIGHT" not in text
    assert "TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\n" in text
