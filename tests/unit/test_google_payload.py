"""The Google Event body calsync sends, held to Google's published discovery document (through the
simulator's validator) and to calsync's rules: no attendees, our marker, private visibility, IANA zones,
all-day dates with an exclusive end."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from calsync.domain.event import MARKER_PROPERTY, CalendarEvent, EventKey
from calsync.domain.model import PrivacySettings
from calsync.domain.privacy import render
from calsync.providers.google import event_body
from devstack.sims.google.schema import Invalid, check_event, discovery
from tests.support import appointments as fixtures

KEY = EventKey("int-1", "tenant-1", "apt-1")


def timed(**overrides: Any) -> CalendarEvent:
    fields: dict[str, Any] = {
        "summary": "#A-1", "description": "Client: #A-1", "location": "Room 9",
        "start": dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC), "end": dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
        "timezone": "Europe/London", "all_day": False, "url": "https://ehr.example/a/1", "private": True,
    }
    return CalendarEvent(**{**fields, **overrides})


def test_timed_event_has_offset_times_in_its_iana_zone_and_our_marker():
    body = event_body(KEY, timed())
    # the clocks go forward at 01:00 UTC that night: the offset follows the zone
    assert body["start"] == {"dateTime": "2026-03-29T00:30:00+00:00", "timeZone": "Europe/London"}
    assert body["end"] == {"dateTime": "2026-03-29T02:30:00+01:00", "timeZone": "Europe/London"}
    assert body["id"] == KEY.digest
    assert body["extendedProperties"] == {"private": {MARKER_PROPERTY: KEY.marker}}
    assert (body["visibility"], body["status"], body["transparency"]) == ("private", "confirmed", "opaque")
    assert body["source"] == {"title": "Open in the EHR", "url": "https://ehr.example/a/1"}
    assert "attendees" not in body


def test_all_day_event_uses_dates_with_an_exclusive_end():
    zone = dt.timezone(dt.timedelta(hours=-5))
    event = timed(start=dt.datetime(2026, 11, 24, tzinfo=zone), end=dt.datetime(2026, 11, 26, tzinfo=zone),
                  timezone="America/New_York", all_day=True)
    body = event_body(KEY, event)
    assert (body["start"], body["end"]) == ({"date": "2026-11-24"}, {"date": "2026-11-26"})


def test_hidden_fields_are_absent_and_visibility_follows_the_setting():
    body = event_body(KEY, timed(location=None, url=None, private=False))
    assert "location" not in body and "source" not in body
    assert body["visibility"] == "default"


@pytest.mark.parametrize("settings", [
    PrivacySettings(),
    PrivacySettings(client_display="full_name", show_visit_type=True, show_notes=True, show_telehealth_link=True,
                    private_visibility=False),
    PrivacySettings(client_display="none", show_location=False, show_practice_name=False, show_deep_link=False),
])
@pytest.mark.parametrize("all_day", [False, True])
def test_every_body_passes_googles_published_event_schema(settings: PrivacySettings, all_day: bool):
    overrides = ({"all_day": True, "start": "2026-11-24T00:00:00-05:00", "end": "2026-11-25T00:00:00-05:00"}
                 if all_day else {})
    event = render(fixtures.appointment(**overrides), settings)
    assert event is not None
    for method in ("calendar.events.insert", "calendar.events.update"):
        check_event(event_body(KEY, event), method)


def test_the_discovery_validator_refuses_what_google_would():
    good = event_body(KEY, timed())
    assert discovery()["schemas"]["Event"]["id"] == "Event"
    with pytest.raises(Invalid, match="Unknown name \"attendee\""):
        check_event({**good, "attendee": [{"email": "x@example.com"}]}, "calendar.events.insert")
    with pytest.raises(Invalid, match="Unknown name \"color\""):
        check_event({**good, "start": {**good["start"], "color": "red"}}, "calendar.events.insert")
    with pytest.raises(Invalid, match="expected a boolean"):
        check_event({**good, "guestsCanModify": "no"}, "calendar.events.insert")
    with pytest.raises(Invalid, match="Missing start"):
        check_event({k: v for k, v in good.items() if k != "start"}, "calendar.events.insert")
    with pytest.raises(Invalid, match="time range is empty"):
        check_event({**good, "end": good["start"]}, "calendar.events.insert")
    with pytest.raises(Invalid):
        check_event({**good, "visibility": "secret"}, "calendar.events.insert")
