"""The Graph simulator's calendarView and calendarView/delta: pages, delta links, changes and removals,
occurrences and exceptions of a series, forced expiry, and calendars."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from devstack.sims.microsoft import MicrosoftGraphSimulator
from tests.simulators.conftest import bearer
from tests.support.simulators import CLIENT_ID, MS_TENANT, MS_USER

STOCKHOLM = ZoneInfo("Europe/Stockholm")
WINDOW = {"startDateTime": "2027-01-01T00:00:00Z", "endDateTime": "2027-02-01T00:00:00Z"}


def at(day: int, hour: int = 9, month: int = 1) -> dt.datetime:
    return dt.datetime(2027, month, day, hour, tzinfo=STOCKHOLM)


def relative(graph: MicrosoftGraphSimulator, link: str) -> str:
    assert link.startswith(graph.api_base + "/")
    parts = urlsplit(link)
    return parts.path.removeprefix("/v1.0/") + "?" + parts.query


def delta_round(graph: MicrosoftGraphSimulator, api: httpx.Client, start: str,
                page_size: int | None = None) -> tuple[list[dict[str, Any]], str, int]:
    """Follows next links to the delta link: the items, the delta link and the number of pages."""
    headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
    url, items, pages = start, [], 0
    while True:
        answer = api.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages += 1
        items += body["value"]
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            return items, body["@odata.deltaLink"], pages
        if page_size:
            assert answer.headers["preference-applied"] == f"odata.maxpagesize={page_size}"
        url = relative(graph, body["@odata.nextLink"])


def first_round(graph: MicrosoftGraphSimulator, api: httpx.Client, **kw: Any) -> tuple[list[dict[str, Any]], str, int]:
    return delta_round(graph, api, "me/calendarView/delta?" + "&".join(f"{k}={v}" for k, v in WINDOW.items()), **kw)


def test_a_delta_round_pages_to_a_delta_link_and_the_next_round_has_only_the_changes(graph, mapi):
    made = [graph.create_event(MS_USER, at(d), at(d, 10), f"Private {d}") for d in range(4, 9)]
    items, link, pages = first_round(graph, mapi, page_size=2)
    assert pages == 3 and sorted(i["id"] for i in items) == sorted(e["id"] for e in made)
    assert all(i["@odata.type"] == "#microsoft.graph.event" for i in items)
    assert "$deltatoken=" in link

    graph.move_event(MS_USER, made[0]["id"], at(4, 15))
    graph.delete_event(MS_USER, made[1]["id"])
    graph.move_event(MS_USER, made[2]["id"], at(3, 9, month=3))  # moved out of the window
    added = graph.create_event(MS_USER, at(20), at(20, 11), "New")
    changes, link, _ = delta_round(graph, mapi, relative(graph, link))
    by_id = {c["id"]: c for c in changes}
    assert set(by_id) == {made[0]["id"], made[1]["id"], made[2]["id"], added["id"]}
    assert by_id[made[0]["id"]]["start"]["dateTime"].startswith("2027-01-04T14:00:00")
    assert by_id[made[1]["id"]]["@removed"] == {"reason": "deleted"} == by_id[made[2]["id"]]["@removed"]
    assert delta_round(graph, mapi, relative(graph, link))[0] == []


def test_a_series_shows_as_occurrences_and_exceptions_never_as_its_master(graph, mapi):
    series = graph.create_event(MS_USER, at(5), at(5, 10), "Physio", recurrence=graph.weekly(at(5), count=4))
    assert series["type"] == "seriesMaster"
    graph.move_occurrence(MS_USER, series["id"], at(12), at(12, 14))
    graph.cancel_occurrence(MS_USER, series["id"], at(19))
    items, link, _ = first_round(graph, mapi)
    shown = sorted((i["type"], i["originalStart"], i["start"]["dateTime"][:16]) for i in items)
    assert shown == [("exception", "2027-01-12T08:00:00Z", "2027-01-12T13:00"),
                     ("occurrence", "2027-01-05T08:00:00Z", "2027-01-05T08:00"),
                     ("occurrence", "2027-01-26T08:00:00Z", "2027-01-26T08:00")]
    assert {i["seriesMasterId"] for i in items} == {series["id"]}

    last = graph.occurrence_id(series["id"], at(26))
    graph.cancel_occurrence(MS_USER, series["id"], at(26))
    changes, _, _ = delta_round(graph, mapi, relative(graph, link))
    assert {c["id"] for c in changes if "@removed" in c} == {last}

    view = mapi.get("me/calendarView", params=WINDOW).json()["value"]
    assert [v["type"] for v in view] == ["occurrence", "exception"]
    listed = mapi.get(f"me/events/{series['id']}/instances", params=WINDOW).json()["value"]
    assert len(listed) == 2
    assert mapi.get(f"me/events/{last}").status_code == 404


def test_editing_an_occurrence_through_the_api_makes_it_an_exception(graph, mapi):
    series = graph.create_event(MS_USER, at(5), at(5, 10), "Physio", recurrence=graph.weekly(at(5), count=2))
    occurrence = graph.occurrence_id(series["id"], at(12))
    fetched = mapi.get(f"me/events/{occurrence}").json()
    assert (fetched["type"], fetched["seriesMasterId"]) == ("occurrence", series["id"])
    patched = mapi.patch(f"me/events/{occurrence}", json={"subject": "Physio (moved room)"})
    assert patched.status_code == 200 and patched.json()["type"] == "exception"
    assert mapi.delete(f"me/events/{graph.occurrence_id(series['id'], at(5))}").status_code == 204
    assert [(i["type"], i["subject"]) for i in mapi.get("me/calendarView", params=WINDOW).json()["value"]] == [
        ("exception", "Physio (moved room)")]


def test_deleting_a_series_removes_every_occurrence_in_the_next_round(graph, mapi):
    series = graph.create_event(MS_USER, at(5), at(5, 10), "Physio", recurrence=graph.weekly(at(5), count=3))
    items, link, _ = first_round(graph, mapi)
    graph.delete_event(MS_USER, series["id"])
    changes, _, _ = delta_round(graph, mapi, relative(graph, link))
    assert {c["id"] for c in changes} == {i["id"] for i in items} and all("@removed" in c for c in changes)


def test_expired_delta_links_answer_410(graph, mapi):
    graph.create_event(MS_USER, at(4), at(4, 10))
    _, link, _ = first_round(graph, mapi)
    graph.expire_delta_tokens(MS_USER)
    gone = mapi.get(relative(graph, link))
    assert (gone.status_code, gone.json()["error"]["code"]) == (410, "syncStateNotFound")

    _, link, _ = first_round(graph, mapi)
    graph.expire_delta_tokens(code="resyncRequired")
    gone = mapi.get(relative(graph, link))
    assert (gone.status_code, gone.json()["error"]["code"]) == (410, "resyncRequired")
    assert gone.headers["location"].startswith(graph.api_base + "/me/calendarView/delta?")
    assert mapi.get("me/calendarView/delta?$deltatoken=made-up").status_code == 410


def test_delta_needs_a_window_and_refuses_unsupported_query_options(graph, mapi):
    assert mapi.get("me/calendarView/delta").json()["error"]["code"] == "ErrorInvalidParameter"
    assert mapi.get("me/calendarView/delta", params={**WINDOW, "$select": "subject"}).status_code == 400
    assert mapi.get("me/calendarView", params={"startDateTime": WINDOW["endDateTime"],
                                               "endDateTime": WINDOW["startDateTime"]}).status_code == 400


def test_calendars_are_listed_created_once_per_name_and_deleted(graph, mapi):
    [default] = mapi.get("me/calendars").json()["value"]
    assert default["isDefaultCalendar"] is True and mapi.get("me/calendar").json()["id"] == default["id"]
    made = mapi.post("me/calendars", json={"name": "Clinic appointments"})
    assert made.status_code == 201
    calendar = made.json()["id"]
    same_name = mapi.post("me/calendars", json={"name": "clinic appointments"})
    assert same_name.json()["error"]["code"] == "ErrorFolderExists"
    assert mapi.post("me/calendars", json={"name": "x", "colour": "red"}).status_code == 400
    body = {"subject": "#A-1", "start": {"dateTime": "2027-01-04T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-01-04T10:00:00", "timeZone": "UTC"}}
    assert mapi.post(f"me/calendars/{calendar}/events", json=body).status_code == 201
    graph.create_event(MS_USER, at(4), at(4, 10), "in the default calendar")
    path = f"me/calendars/{calendar}/calendarView/delta?startDateTime=2027-01-01&endDateTime=2027-02-01"
    items, link, _ = delta_round(graph, mapi, path)
    assert [i["subject"] for i in items] == ["#A-1"] and f"/me/calendars/{calendar}/calendarView/delta?" in link
    assert mapi.delete(f"me/calendars/{default['id']}").status_code == 400
    assert mapi.delete(f"me/calendars/{calendar}").status_code == 204
    assert mapi.get(f"me/calendars/{calendar}/events").status_code == 404


def test_a_read_only_token_reads_but_does_not_write(graph, mapi):
    token = bearer(graph, graph.connect(MS_USER, CLIENT_ID, MS_TENANT,
                                        scopes=("https://graph.microsoft.com/Calendars.Read",)))
    headers = {"Authorization": f"Bearer {token}"}
    assert mapi.get("me/calendarView", params=WINDOW, headers=headers).status_code == 200
    body = {"subject": "x", "start": {"dateTime": "2027-01-04T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-01-04T10:00:00", "timeZone": "UTC"}}
    assert mapi.post("me/events", json=body, headers=headers).json()["error"]["code"] == "ErrorAccessDenied"


def test_an_event_keeps_the_zone_its_times_were_set_in_as_graph_does(graph, mapi):
    """Graph's ``originalStartTimeZone`` / ``originalEndTimeZone``: where an all-day event's dates are, even in a
    UTC view (Stockholm's 1 January starts at 23:00 UTC on 31 December)."""
    day = graph.create_event(MS_USER, dt.datetime(2027, 1, 5, tzinfo=STOCKHOLM),
                             dt.datetime(2027, 1, 6, tzinfo=STOCKHOLM), "Holiday", isAllDay=True)
    items, _, _ = first_round(graph, mapi)
    (shown,) = [i for i in items if i["id"] == day["id"]]
    assert (shown["originalStartTimeZone"], shown["originalEndTimeZone"]) == ("Europe/Stockholm", "Europe/Stockholm")
    assert shown["start"] == {"dateTime": "2027-01-04T23:00:00.0000000", "timeZone": "UTC"}
    moved = graph.move_event(MS_USER, day["id"], dt.datetime(2027, 1, 7, tzinfo=ZoneInfo("America/Chicago")))
    assert moved["originalStartTimeZone"] == "America/Chicago"
