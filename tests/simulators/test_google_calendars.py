"""The Google simulator's calendars: calendarList, a dedicated secondary calendar, OAuth scopes per
method (calendar.app.created reaching only the app's own calendars), and freeBusy.query."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx

from tests.simulators.conftest import bearer
from tests.support.simulators import CLIENT_ID, GOOGLE_USER

SCOPE = "https://www.googleapis.com/auth/"
NY = ZoneInfo("America/New_York")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2027, 1, day, hour, minute, tzinfo=NY)


def client_with(google, *scopes: str) -> httpx.Client:
    token = bearer(google, google.connect(GOOGLE_USER, CLIENT_ID, tuple(SCOPE + s for s in scopes)))
    return httpx.Client(base_url=google.api_base, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_a_dedicated_calendar_is_created_listed_read_and_deleted(google, gapi):
    made = gapi.post("calendars", json={"summary": "Clinic appointments", "timeZone": "America/New_York"})
    assert made.status_code == 200
    calendar = made.json()
    assert calendar["id"].endswith("@group.calendar.google.com") and calendar["dataOwner"] == GOOGLE_USER
    listed = gapi.get("users/me/calendarList").json()["items"]
    assert [(c["id"], c.get("primary", False), c["accessRole"]) for c in listed] == [
        (GOOGLE_USER, True, "owner"), (calendar["id"], False, "owner")]
    assert gapi.get(f"users/me/calendarList/{calendar['id']}").json()["summary"] == "Clinic appointments"
    assert gapi.get(f"calendars/{calendar['id']}").json()["timeZone"] == "America/New_York"
    assert gapi.post("calendars", json={"timeZone": "UTC"}).status_code == 400  # summary is required
    assert gapi.delete(f"calendars/{calendar['id']}").status_code == 204
    assert gapi.get(f"calendars/{calendar['id']}").status_code == 404
    assert gapi.delete("calendars/primary").json()["error"]["errors"][0]["reason"] == "cannotDeletePrimaryCalendar"


def test_app_created_scope_reaches_only_the_apps_own_calendars(google):
    with client_with(google, "calendar.app.created") as api:
        own = api.post("calendars", json={"summary": "Clinic appointments"}).json()["id"]
        event = {"summary": "#A-1", "start": {"dateTime": at(4, 9).isoformat()},
                 "end": {"dateTime": at(4, 10).isoformat()}}
        assert api.post(f"calendars/{own}/events", json=event).status_code == 200
        assert api.post("calendars/primary/events", json=event).status_code == 404
        denied = api.get("users/me/calendarList")
        assert denied.status_code == 403
        assert denied.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"


def test_a_method_needs_one_of_the_scopes_the_discovery_document_lists(google):
    with client_with(google, "calendar.readonly") as api:
        assert api.get("calendars/primary/events").status_code == 200
        body = {"start": {"dateTime": at(4, 9).isoformat()}, "end": {"dateTime": at(4, 10).isoformat()}}
        assert api.post("calendars/primary/events", json=body).status_code == 403
    with client_with(google, "calendar.events") as api:
        assert api.post("calendars", json={"summary": "x"}).status_code == 403
        assert api.post("freeBusy", json={"timeMin": at(4, 0).isoformat(), "timeMax": at(5, 0).isoformat()}
                        ).status_code == 403


def test_free_busy_merges_busy_time_and_leaves_out_free_declined_and_cancelled_events(google, gapi):
    google.create_event(GOOGLE_USER, at(4, 9), at(4, 10), "a")
    google.create_event(GOOGLE_USER, at(4, 9, 30), at(4, 11), "overlapping")
    google.create_event(GOOGLE_USER, at(4, 12), at(4, 13), "free", transparency="transparent")
    google.create_event(GOOGLE_USER, at(4, 14), at(4, 15), "declined",
                        attendees=[{"email": GOOGLE_USER, "self": True, "responseStatus": "declined"}])
    gone = google.create_event(GOOGLE_USER, at(4, 16), at(4, 17), "cancelled")
    google.delete_event(GOOGLE_USER, gone["id"])
    series = google.create_event(GOOGLE_USER, at(4, 18), at(4, 19), "series", recurrence=["RRULE:FREQ=DAILY;COUNT=3"])
    google.cancel_instance(GOOGLE_USER, series["id"], at(5, 18))
    answer = gapi.post("freeBusy", json={"timeMin": at(4, 9, 15).isoformat(), "timeMax": at(6, 18, 30).isoformat(),
                                         "items": [{"id": GOOGLE_USER}, {"id": "nobody@example.com"}]})
    assert answer.status_code == 200, answer.text
    calendars = answer.json()["calendars"]
    assert calendars[GOOGLE_USER]["busy"] == [
        {"start": "2027-01-04T14:15:00Z", "end": "2027-01-04T16:00:00Z"},
        {"start": "2027-01-04T23:00:00Z", "end": "2027-01-05T00:00:00Z"},
        {"start": "2027-01-06T23:00:00Z", "end": "2027-01-06T23:30:00Z"}]
    assert calendars["nobody@example.com"]["errors"] == [{"domain": "global", "reason": "notFound"}]
    assert gapi.post("freeBusy", json={"items": []}).status_code == 400
