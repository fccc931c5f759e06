"""The Graph event body calsync sends, held to Graph's Event schema (field lists from Microsoft's own
generated models, see devstack.sims.microsoft.schema) and to calsync's rules; and the check that tells a
retried create's stale answer from a fresh one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from calsync.domain.event import CalendarEvent, EventKey
from calsync.domain.model import PrivacySettings
from calsync.domain.privacy import render
from calsync.providers.microsoft import MARKER_ID, creation_fields, event_body, shows
from devstack.sims.microsoft.schema import problems
from tests.support import appointments as fixtures

KEY = EventKey("int-ms-1", "tenant-1", "apt-1")


def timed(**overrides: Any) -> CalendarEvent:
    fields: dict[str, Any] = {
        "summary": "#A-1", "description": "Client: #A-1\nPractice: Main", "location": "Room 9",
        "start": dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC),
        "end": dt.datetime(2026, 11, 24, 15, 20, tzinfo=dt.UTC),
        "timezone": "America/New_York", "all_day": False, "private": True,
    }
    return CalendarEvent(**{**fields, **overrides})


def test_times_are_wall_clock_in_the_iana_zone_and_nothing_invites_anyone():
    body = {**event_body(timed()), **creation_fields(KEY)}
    assert body["start"] == {"dateTime": "2026-11-24T09:30:00", "timeZone": "America/New_York"}
    assert body["end"] == {"dateTime": "2026-11-24T10:20:00", "timeZone": "America/New_York"}
    assert (body["sensitivity"], body["showAs"], body["isAllDay"]) == ("private", "busy", False)
    assert body["transactionId"] == KEY.digest
    assert body["singleValueExtendedProperties"] == [{"id": MARKER_ID, "value": KEY.marker}]
    assert MARKER_ID.startswith("String {") and MARKER_ID.endswith("} Name X-CALSYNC-KEY")
    assert "attendees" not in body


def test_a_time_in_the_repeated_hour_of_a_fall_back_night_is_sent_in_utc():
    # 2027-11-07, New York: 01:30 EDT (05:30Z) to 01:30 EST (06:30Z) - the same wall clock at both ends
    body = event_body(timed(start=dt.datetime(2027, 11, 7, 5, 30, tzinfo=dt.UTC),
                            end=dt.datetime(2027, 11, 7, 6, 30, tzinfo=dt.UTC)))
    assert body["start"] == {"dateTime": "2027-11-07T05:30:00", "timeZone": "UTC"}
    assert body["end"] == {"dateTime": "2027-11-07T06:30:00", "timeZone": "UTC"}
    assert problems(body) == []
    calm = event_body(timed(start=dt.datetime(2027, 11, 7, 7, 30, tzinfo=dt.UTC),
                            end=dt.datetime(2027, 11, 7, 8, 0, tzinfo=dt.UTC)))
    assert calm["start"] == {"dateTime": "2027-11-07T02:30:00", "timeZone": "America/New_York"}


def test_hidden_location_is_cleared_not_left_behind():
    body = event_body(timed(location=None, private=False))
    assert body["location"] == {"displayName": ""}
    assert body["sensitivity"] == "normal"


@pytest.mark.parametrize("settings", [
    PrivacySettings(),
    PrivacySettings(client_display="full_name", show_visit_type=True, show_notes=True, private_visibility=False),
])
@pytest.mark.parametrize("all_day", [False, True])
def test_every_body_passes_graphs_event_schema(settings: PrivacySettings, all_day: bool):
    overrides = ({"all_day": True, "start": "2026-11-24T00:00:00-05:00", "end": "2026-11-25T00:00:00-05:00"}
                 if all_day else {})
    event = render(fixtures.appointment(**overrides), settings)
    assert event is not None
    body = {**event_body(event), **creation_fields(KEY)}
    assert problems(body) == []
    if all_day:
        assert body["start"]["dateTime"].endswith("T00:00:00") and body["end"]["dateTime"].endswith("T00:00:00")


def test_the_schema_refuses_what_graph_would():
    body = event_body(timed())
    assert problems({**body, "attendee": []}) == [
        "attendee: the property 'attendee' does not exist on type 'microsoft.graph.Event'"]
    assert problems({**body, "start": {**body["start"], "zone": "x"}})
    assert problems({**body, "sensitivity": "secret"}) == ["sensitivity: not a valid value"]
    assert problems({**body, "isAllDay": "no"}) == ["isAllDay: expected boolean"]


def graph_answer(body: dict[str, Any]) -> dict[str, Any]:
    """What Graph returns for ``body`` by default: UTC times with seven decimals, an HTML body."""
    return {**body, "id": "AAMk1", "start": {"dateTime": "2026-11-24T14:30:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-24T15:20:00.0000000", "timeZone": "UTC"},
            "body": {"contentType": "html",
                     "content": "<html><body><div>Client: #A-1<br>\r\nPractice: Main</div></body></html>"}}


def test_shows_accepts_graphs_rendering_of_the_same_content():
    body = event_body(timed())
    assert shows(graph_answer(body), body)


def test_shows_spots_an_older_attempts_content():
    body = event_body(timed())
    moved = event_body(timed(start=dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC),
                             end=dt.datetime(2026, 11, 24, 16, tzinfo=dt.UTC)))
    assert not shows(graph_answer(body), moved)
    assert not shows(graph_answer(body), event_body(timed(summary="#A-2")))
    assert not shows(graph_answer(body), event_body(timed(description="Client: #A-1")))
    assert not shows({**graph_answer(body), "start": {"dateTime": "x", "timeZone": "Mars/Olympus"}}, body)
