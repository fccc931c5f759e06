"""What the readers make of what providers answer (``calsync.providers.*_reader``), and what those answers
mean (``calsync.http.outcomes``): pure parsing, no server."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from calsync.core.errors import ProviderRejectedError
from calsync.domain.busy import ShowAs, Window
from calsync.domain.model import Integration, Provider
from calsync.http.outcomes import Answer, answer
from calsync.providers import google_reader, microsoft_reader
from calsync.providers.caldav_reader import events_of

WINDOW = Window(dt.datetime(2026, 11, 23, tzinfo=dt.UTC), dt.datetime(2027, 11, 24, tzinfo=dt.UTC))


def test_google_entries_become_events_with_our_marker_dates_and_statuses():
    timed = google_reader.normalise({
        "id": "e1", "etag": '"1"', "summary": "Dentist", "start": {"dateTime": "2026-11-24T09:00:00-05:00"},
        "end": {"dateTime": "2026-11-24T10:00:00-05:00"},
        "attendees": [{"email": "me@example.com", "self": True, "responseStatus": "declined"},
                      {"email": "dr.tooth@example.com"}]}, "America/New_York")
    assert (timed.start, timed.declined, timed.attendees) == (
        dt.datetime(2026, 11, 24, 14, tzinfo=dt.UTC), True, ("me@example.com", "dr.tooth@example.com"))
    all_day = google_reader.normalise({"id": "e2", "start": {"date": "2026-11-26"}, "end": {"date": "2026-11-27"},
                                       "transparency": "transparent"}, "America/Chicago")
    assert (all_day.all_day, all_day.start_date, all_day.end_date, all_day.show_as) == (
        True, dt.date(2026, 11, 26), dt.date(2026, 11, 27), ShowAs.FREE)
    assert all_day.start == dt.datetime(2026, 11, 26, 6, tzinfo=dt.UTC)
    ours = google_reader.normalise({"id": "abc", "start": {"date": "2026-11-26"}, "end": {"date": "2026-11-27"},
                                    "extendedProperties": {"private": {"X-CALSYNC-KEY": "abc"}}}, None)
    assert ours.ours
    kinds = [google_reader.normalise({"id": "k", "eventType": kind, "start": {"date": "2026-11-26"},
                                      "end": {"date": "2026-11-27"}}, None).show_as
             for kind in ("outOfOffice", "workingLocation", "focusTime")]
    assert kinds == [ShowAs.OUT_OF_OFFICE, ShowAs.FREE, ShowAs.BUSY]


def test_graph_items_become_events_all_day_on_their_own_dates():
    shifted = microsoft_reader.normalise({
        "id": "g1", "@odata.etag": 'W/"x"', "isAllDay": True, "showAs": "free",
        "start": {"dateTime": "2026-12-24T23:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-25T23:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Europe/Stockholm", "originalEndTimeZone": "Europe/Stockholm"})
    assert (shifted.start_date, shifted.end_date, shifted.show_as, shifted.etag) == (
        dt.date(2026, 12, 25), dt.date(2026, 12, 26), ShowAs.FREE, 'W/"x"')
    # without a usable zone (a Windows zone name, say) the nearest midnight still names the right day
    unknown = microsoft_reader.all_day_date(dt.datetime(2026, 12, 25, 5, tzinfo=dt.UTC), "Eastern Standard Time")
    assert unknown == dt.date(2026, 12, 25)
    assert microsoft_reader.all_day_date(dt.datetime(2026, 12, 24, 15, tzinfo=dt.UTC), None) == dt.date(2026, 12, 25)
    ours = microsoft_reader.normalise({"id": "g2", "transactionId": "0" * 32, "showAs": "oof",
                                       "responseStatus": {"response": "declined"},
                                       "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
                                       "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"}})
    assert (ours.marker, ours.show_as, ours.declined) == ("0" * 32, ShowAs.OUT_OF_OFFICE, True)
    theirs = microsoft_reader.normalise({"id": "g3", "transactionId": "booking-7",
                                         "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
                                         "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"}})
    assert theirs.marker is None


class _Tokens:
    def access_token(self) -> str:
        return "t"

    def renew(self, rejected: str) -> str:
        return "t"


def test_graph_links_are_followed_only_on_the_configured_host():
    reader = microsoft_reader.MicrosoftGraphReader(
        Integration(integration_id="i", tenant_id="t", practitioner_id="p", provider=Provider.MICROSOFT,
                    calendar_id="c"), _Tokens(), api_base="https://graph.microsoft.com/v1.0")
    with pytest.raises(ProviderRejectedError, match="foreign_link"):
        reader.changes("c", "https://evil.example/v1.0/me/calendarView/delta?$deltatoken=x", WINDOW)


SERIES = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//x//EN
BEGIN:VEVENT
UID:physio
DTSTART;TZID=America/Chicago:20261201T090000
DTEND;TZID=America/Chicago:20261201T100000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=America/Chicago:20261208T090000
ATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.com
SUMMARY:Physio
END:VEVENT
BEGIN:VEVENT
UID:physio
RECURRENCE-ID;TZID=America/Chicago:20261215T090000
DTSTART;TZID=America/Chicago:20261215T140000
DTEND;TZID=America/Chicago:20261215T150000
ATTENDEE;PARTSTAT=DECLINED:mailto:ME@example.com
SUMMARY:Physio
END:VEVENT
END:VCALENDAR
"""


def test_caldav_series_are_expanded_with_overrides_exclusions_and_declines():
    found = events_of("https://dav/cal/physio.ics", '"1"', SERIES, WINDOW, None, frozenset({"me@example.com"}))
    assert [(e.start.astimezone(dt.UTC).isoformat(), e.declined) for e in found] == [
        ("2026-12-01T15:00:00+00:00", False), ("2026-12-15T20:00:00+00:00", True),
        ("2026-12-22T15:00:00+00:00", False)]
    assert len({e.instance for e in found}) == 3 and all(e.source.endswith("physio.ics") for e in found)


def test_caldav_our_event_floating_times_and_all_day_dates():
    ours = events_of("u", None, "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x@calsync\nX-CALSYNC-KEY:abc\n"
                                 "DTSTART:20200101T090000Z\nDTEND:20200101T100000Z\nEND:VEVENT\nEND:VCALENDAR\n",
                     WINDOW, None, frozenset())
    assert [e.marker for e in ours] == ["abc"]  # our own, wherever it is: the caller checks it
    floating = events_of("u", None, "BEGIN:VCALENDAR\nX-WR-TIMEZONE:Asia/Tokyo\nBEGIN:VEVENT\nUID:f\n"
                                     "DTSTART:20261201T090000\nDTEND:20261201T100000\nEND:VEVENT\n"
                                     "BEGIN:VEVENT\nUID:d\nDTSTART;VALUE=DATE:20261203\nTRANSP:TRANSPARENT\n"
                                     "END:VEVENT\nEND:VCALENDAR\n", WINDOW, "UTC", frozenset())
    timed, day = sorted(floating, key=lambda e: e.start)
    assert timed.start == dt.datetime(2026, 12, 1, 0, tzinfo=dt.UTC)  # 09:00 in Tokyo
    assert (day.start_date, day.end_date, day.show_as, day.zone) == (
        dt.date(2026, 12, 3), dt.date(2026, 12, 4), ShowAs.FREE, "Asia/Tokyo")


def reply(status: int, body: bytes = b"", content_type: str = "application/xml") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize(("provider", "operation", "response", "expected"), [
    ("google", "list", reply(410, b'{"error":{"errors":[{"reason":"fullSyncRequired"}]}}', "application/json"),
     Answer.EXPIRED),
    ("microsoft", "delta", reply(410, b'{"error":{"code":"syncStateNotFound"}}', "application/json"),
     Answer.EXPIRED),
    ("microsoft", "delta", reply(400, b'{"error":{"code":"syncStateNotFound"}}', "application/json"),
     Answer.EXPIRED),
    ("caldav", "sync", reply(403, b'<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>'),
     Answer.EXPIRED),
    ("caldav", "sync", reply(409, b'<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>'), Answer.EXPIRED),
    ("google", "stop", reply(404), Answer.MISSING),
    ("microsoft", "renew", reply(404), Answer.MISSING)])
def test_what_a_lost_sync_state_or_a_gone_channel_looks_like(provider, operation, response, expected):
    assert answer(provider, operation, response) is expected


def test_a_caldav_403_without_the_precondition_is_still_a_refusal():
    from calsync.core.errors import ProviderAuthError

    with pytest.raises(ProviderAuthError):
        answer("caldav", "sync", reply(403, b"Forbidden", "text/plain"))
