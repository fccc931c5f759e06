"""The Google simulator's events.list: full and incremental sync, pages, recurring series expanded or not,
moved and cancelled instances, windows, forced sync-token expiry, and writes through instance ids."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from devstack.sims.google import GoogleCalendarSimulator
from tests.support.simulators import GOOGLE_USER

NY = ZoneInfo("America/New_York")
CAL = GOOGLE_USER
EVENTS = f"calendars/{CAL}/events"
MINIMAL_KEYS = {"kind", "etag", "id", "status", "updated", "recurringEventId", "originalStartTime"}


def at(day: int, hour: int = 9, minute: int = 30, month: int = 1) -> dt.datetime:
    return dt.datetime(2027, month, day, hour, minute, tzinfo=NY)


def sync(api: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], str, int]:
    """Every page of one list call: the items, the final sync token and how many pages it took."""
    items, pages, page_token = [], 0, None
    while True:
        query = {**params, **({"pageToken": page_token} if page_token else {})}
        answer = api.get(EVENTS, params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages += 1
        items += body["items"]
        assert not ("nextPageToken" in body and "nextSyncToken" in body)
        page_token = body.get("nextPageToken")
        if page_token is None:
            return items, body["nextSyncToken"], pages


def weekly_series(google: GoogleCalendarSimulator, count: int = 5) -> dict[str, Any]:
    return google.create_event(CAL, at(5), at(5, 10, 20), "Physio", recurrence=[f"RRULE:FREQ=WEEKLY;COUNT={count}"])


def test_a_full_sync_pages_through_and_an_incremental_one_returns_only_the_changes(google, gapi):
    made = [google.create_event(CAL, at(d), at(d, 10), f"Private {d}") for d in range(4, 9)]
    items, token, pages = sync(gapi, maxResults=2)
    assert (pages, sorted(i["id"] for i in items)) == (3, sorted(e["id"] for e in made))

    moved = google.move_event(CAL, made[0]["id"], at(4, 15))
    google.delete_event(CAL, made[1]["id"])
    added = google.create_event(CAL, at(12), at(12, 11), "New")
    changes, token, _ = sync(gapi, syncToken=token)
    by_id = {i["id"]: i for i in changes}
    assert set(by_id) == {moved["id"], made[1]["id"], added["id"]}
    assert by_id[moved["id"]]["start"]["dateTime"] == at(4, 15).isoformat()
    assert by_id[made[1]["id"]]["status"] == "cancelled" and set(by_id[made[1]["id"]]) <= MINIMAL_KEYS

    assert sync(gapi, syncToken=token)[0] == []  # nothing changed since


def test_a_full_sync_leaves_deleted_events_out_unless_show_deleted(google, gapi):
    kept, gone = (google.create_event(CAL, at(d), at(d, 10)) for d in (4, 5))
    google.delete_event(CAL, gone["id"])
    assert [i["id"] for i in sync(gapi)[0]] == [kept["id"]]
    shown = {i["id"]: i["status"] for i in sync(gapi, showDeleted="true")[0]}
    assert shown == {kept["id"]: "confirmed", gone["id"]: "cancelled"}


def test_single_events_expand_a_series_with_a_moved_and_a_cancelled_instance(google, gapi):
    series = weekly_series(google)
    google.move_instance(CAL, series["id"], at(12), at(12, 14))
    google.cancel_instance(CAL, series["id"], at(19))

    instances, _, _ = sync(gapi, singleEvents="true", orderBy="startTime")
    assert [i["start"]["dateTime"] for i in instances] == [
        at(5).isoformat(), at(12, 14).isoformat(), at(26).isoformat(), at(2, month=2).isoformat()]
    assert all(i["recurringEventId"] == series["id"] and "recurrence" not in i for i in instances)
    moved = instances[1]
    assert moved["id"] == f"{series['id']}_20270112T143000Z"
    assert moved["originalStartTime"] == {"dateTime": at(12).isoformat(), "timeZone": "America/New_York"}

    with_deleted, _, _ = sync(gapi, singleEvents="true", showDeleted="true")
    [cancelled] = [i for i in with_deleted if i["status"] == "cancelled"]
    assert cancelled["id"] == f"{series['id']}_20270119T143000Z" and set(cancelled) <= MINIMAL_KEYS

    as_series, _, _ = sync(gapi)  # singleEvents=false: the series, its moved and its cancelled instance
    by_id = {i["id"]: i for i in as_series}
    assert by_id[series["id"]]["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=5"]
    assert by_id[moved["id"]]["recurringEventId"] == series["id"]
    assert by_id[cancelled["id"]]["status"] == "cancelled"
    assert len(by_id) == 3

    assert gapi.get(EVENTS, params={"orderBy": "startTime"}).json()["error"]["code"] == 400


def test_instances_keep_their_wall_clock_time_across_a_daylight_saving_change(google, gapi):
    series = google.create_event(CAL, at(9, month=3), at(9, 10, 20, month=3), "Weekly",
                                 recurrence=["RRULE:FREQ=WEEKLY;COUNT=2"])
    instances, _, _ = sync(gapi, singleEvents="true")
    assert [i["id"].rsplit("_", 1)[1] for i in instances] == ["20270309T143000Z", "20270316T133000Z"]
    assert {i["start"]["dateTime"][11:16] for i in instances} == {"09:30"}
    assert series["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=2"]


def test_the_window_bounds_an_events_end_and_start_exclusively(google, gapi):
    event = google.create_event(CAL, at(4, 10, 0), at(4, 11, 0))

    def listed(**params: str) -> bool:
        return [i["id"] for i in sync(gapi, **params)[0]] == [event["id"]]

    assert listed(timeMin=at(4, 10, 59).isoformat())
    assert not listed(timeMin=at(4, 11, 0).isoformat())
    assert listed(timeMax=at(4, 10, 1).isoformat())
    assert not listed(timeMax=at(4, 10, 0).isoformat())
    assert gapi.get(EVENTS, params={"timeMin": at(5).isoformat(), "timeMax": at(4).isoformat()}).status_code == 400


def test_an_incremental_single_events_sync_reports_each_changed_instance(google, gapi):
    series = weekly_series(google, count=3)
    _, token, _ = sync(gapi, singleEvents="true")

    google.cancel_instance(CAL, series["id"], at(12))
    changes, token, _ = sync(gapi, singleEvents="true", syncToken=token)
    assert [(c["id"].rsplit("_", 1)[1], c["status"]) for c in changes if c["status"] == "cancelled"] == [
        ("20270112T143000Z", "cancelled")]

    google.move_event(CAL, series["id"], at(5, 8, 0))  # the whole series moves: new instance ids, old ones gone
    changes, token, _ = sync(gapi, singleEvents="true", syncToken=token)
    states = {c["id"].rsplit("_", 1)[1]: c["status"] for c in changes}
    assert states["20270105T143000Z"] == states["20270119T143000Z"] == "cancelled"
    assert states["20270105T130000Z"] == states["20270119T130000Z"] == "confirmed"

    google.delete_event(CAL, series["id"])
    changes, _, _ = sync(gapi, singleEvents="true", syncToken=token)
    assert changes and {c["status"] for c in changes} == {"cancelled"}


def test_an_expired_or_foreign_sync_token_answers_410_full_sync_required(google, gapi):
    google.create_event(CAL, at(4), at(4, 10))
    _, token, _ = sync(gapi)
    assert google.expire_sync_tokens(CAL) >= 1
    answer = gapi.get(EVENTS, params={"syncToken": token})
    assert answer.status_code == 410
    [reason] = answer.json()["error"]["errors"]
    assert (reason["reason"], reason["domain"], reason["location"]) == ("fullSyncRequired", "calendar", "syncToken")
    items, fresh, _ = sync(gapi)  # the full resync works and gives a token that works
    assert len(items) == 1 and sync(gapi, syncToken=fresh)[0] == []

    gapi.post("calendars", json={"summary": "Other"})
    other = next(c["id"] for c in google.calendars(GOOGLE_USER) if c["summary"] == "Other")
    assert gapi.get(f"calendars/{other}/events", params={"syncToken": fresh}).status_code == 410


def test_a_sync_token_refuses_the_filters_google_forbids_with_it(google, gapi):
    _, token, _ = sync(gapi)
    for extra in ({"timeMin": at(4).isoformat()}, {"showDeleted": "false"}, {"q": "x"}, {"orderBy": "updated"},
                  {"privateExtendedProperty": "k=v"}, {"updatedMin": at(4).isoformat()}):
        assert gapi.get(EVENTS, params={"syncToken": token, **extra}).status_code == 400, extra
    assert gapi.get(EVENTS, params={"syncToken": token, "showDeleted": "true"}).status_code == 200


def test_updated_min_includes_deleted_events(google, gapi):
    google.clock.advance(60)
    event = google.create_event(CAL, at(4), at(4, 10))
    google.delete_event(CAL, event["id"])
    since = dt.datetime.fromtimestamp(google.clock.now() - 30, dt.UTC).isoformat()
    assert [(i["id"], i["status"]) for i in sync(gapi, updatedMin=since)[0]] == [(event["id"], "cancelled")]


def test_an_instance_is_read_moved_and_cancelled_through_its_instance_id(google, gapi):
    series = weekly_series(google, count=3)
    second = f"{EVENTS}/{series['id']}_20270112T143000Z"
    assert gapi.get(second).json()["originalStartTime"]["dateTime"] == at(12).isoformat()

    patched = gapi.patch(second, json={"summary": "Physio (late)", "start": {"dateTime": at(12, 16).isoformat(),
                                                                            "timeZone": "America/New_York"},
                                       "end": {"dateTime": at(12, 17).isoformat(), "timeZone": "America/New_York"}})
    assert patched.status_code == 200 and patched.json()["recurringEventId"] == series["id"]
    assert gapi.delete(f"{EVENTS}/{series['id']}_20270119T143000Z").status_code == 204
    listed = gapi.get(f"{EVENTS}/{series['id']}/instances").json()["items"]
    assert [(i["summary"], i["start"]["dateTime"]) for i in listed] == [
        ("Physio", at(5).isoformat()), ("Physio (late)", at(12, 16).isoformat())]
    assert gapi.get(f"{EVENTS}/{series['id']}_20270126T143000Z").status_code == 404  # no such instance


def test_recurring_events_are_checked_like_google_does(google, gapi):
    body: dict[str, Any] = {"summary": "x", "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"],
            "start": {"dateTime": "2027-01-04T09:00:00-05:00"}, "end": {"dateTime": "2027-01-04T10:00:00-05:00"}}
    missing_zone = gapi.post(EVENTS, json=body)
    assert missing_zone.status_code == 400
    assert missing_zone.json()["error"]["errors"][0]["reason"] == "missingTimeZone"
    zoned = {**body, "start": {**body["start"], "timeZone": "America/New_York"},
             "end": {**body["end"], "timeZone": "America/New_York"}}
    assert gapi.post(EVENTS, json={**zoned, "recurrence": ["FREQ=DAILY"]}).status_code == 400
    assert gapi.post(EVENTS, json={**zoned, "colour": "red"}).status_code == 400  # not in the discovery document
    assert gapi.post(EVENTS, json=zoned).status_code == 200
    assert gapi.get(EVENTS, params={"singleEvents": "maybe"}).status_code == 400
