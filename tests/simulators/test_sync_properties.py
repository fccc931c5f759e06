"""Property: whatever a clinician does (events created, moved, deleted; series with moved and cancelled
instances), a client that keeps a replica through incremental sync (Google sync tokens in singleEvents
mode, Graph delta links), full-resyncing after a forced expiry, ends up holding exactly what a fresh full
read shows. This is the contract two-way sync is built on, so the simulators must keep it."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.microsoft import MicrosoftGraphSimulator
from tests.simulators.conftest import bearer
from tests.support.simulators import CLIENT_ID, CLIENT_SECRET, GOOGLE_USER, MS_TENANT, MS_USER, trusting_client

ZONE = ZoneInfo("America/New_York")
WINDOW = ("2027-01-01T00:00:00Z", "2027-03-01T00:00:00Z")
Op = tuple[Any, ...]

CREATE = st.tuples(st.just("create"), st.integers(1, 40), st.integers(7, 18))
SERIES = st.tuples(st.just("series"), st.integers(1, 30), st.integers(2, 6))
SYNC = st.tuples(st.just("sync"))
operations = st.lists(st.one_of(
    CREATE, SERIES, SYNC, CREATE, SERIES, SYNC,  # listed twice: more of them, so edits have something to act on
    st.tuples(st.just("move"), st.integers(0, 9), st.integers(1, 70), st.integers(7, 18)),
    st.tuples(st.just("delete"), st.integers(0, 9)),
    st.tuples(st.just("move_instance"), st.integers(0, 9), st.integers(0, 5), st.integers(7, 18)),
    st.tuples(st.just("cancel_instance"), st.integers(0, 9), st.integers(0, 5)),
    st.tuples(st.just("expire")),
), min_size=3, max_size=16)

# Named schedules every run covers: a series moved as a whole, an instance cancelled, an event deleted, all
# between two syncs, and a sync token expired in between.
SERIES_MOVED = [("series", 3, 3), ("sync",), ("move", 0, 10, 9)]
INSTANCE_CANCELLED = [("series", 3, 3), ("sync",), ("cancel_instance", 0, 1), ("move_instance", 0, 2, 15)]
DELETED_AFTER_EXPIRY = [("create", 3, 9), ("sync",), ("expire",), ("delete", 0), ("create", 5, 9)]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def moment(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2027, 1, 1, hour, tzinfo=ZONE) + dt.timedelta(days=day - 1)


def play(op: Op, sim: Any, owner: str, made: list[dict[str, Any]]) -> None:
    """One clinician action on either simulator (the consoles share their shape)."""
    kind = op[0]
    if kind == "create":
        made.append(sim.create_event(owner, moment(op[1], op[2]), moment(op[1], op[2]) + dt.timedelta(minutes=45)))
    elif kind == "series":
        start = moment(op[1], 9)
        rule = ([f"RRULE:FREQ=WEEKLY;COUNT={op[2]}"] if isinstance(sim, GoogleCalendarSimulator)
                else sim.weekly(start, count=op[2]))
        made.append(sim.create_event(owner, start, start + dt.timedelta(hours=1), recurrence=rule))
    elif made:
        event = made[op[1] % len(made)]
        try:
            if kind == "move":
                sim.move_event(owner, event["id"], moment(op[2], op[3]))
            elif kind == "delete":
                sim.delete_event(owner, event["id"])
            elif event.get("recurrence"):
                original = dt.datetime.fromisoformat(event["start"]["dateTime"])
                if isinstance(sim, MicrosoftGraphSimulator):
                    original = original.replace(tzinfo=ZoneInfo(event["start"]["timeZone"]))
                original += dt.timedelta(weeks=op[2])
                if kind == "move_instance":
                    shifted = original.replace(hour=op[3])
                    mover = sim.move_instance if isinstance(sim, GoogleCalendarSimulator) else sim.move_occurrence
                    mover(owner, event["id"], original, shifted)
                else:
                    canceller = (sim.cancel_instance if isinstance(sim, GoogleCalendarSimulator)
                                 else sim.cancel_occurrence)
                    canceller(owner, event["id"], original)
        except KeyError:
            pass  # the clinician clicked something already gone: nothing happens


def shape(item: dict[str, Any]) -> tuple[str, str, str]:
    return item.get("summary") or item.get("subject") or "", str(item["start"]), str(item["end"])


@SETTINGS
@given(ops=operations)
@example(ops=SERIES_MOVED)
@example(ops=INSTANCE_CANCELLED)
@example(ops=DELETED_AFTER_EXPIRY)
def test_google_incremental_sync_converges_on_a_full_read(google_server, ops):
    google = google_server
    google.reset()
    google.register_client(CLIENT_ID, CLIENT_SECRET)
    google.add_user(GOOGLE_USER)
    token = bearer(google, google.connect(GOOGLE_USER, CLIENT_ID))
    events = f"{google.api_base}/calendars/{GOOGLE_USER}/events"
    api = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)
    replica: dict[str, dict[str, Any]] = {}
    sync_token: str | None = None

    def pull() -> None:
        nonlocal sync_token
        params: dict[str, Any] = {"singleEvents": "true", "maxResults": 3}
        if sync_token is not None:
            params["syncToken"] = sync_token
        page: str | None = None
        while True:
            answer = api.get(events, params={**params, **({"pageToken": page} if page else {})})
            if answer.status_code == 410:
                replica.clear()
                sync_token = None
                return pull()
            body = answer.json()
            for item in body["items"]:
                if item["status"] == "cancelled":
                    replica.pop(item["id"], None)
                else:
                    replica[item["id"]] = item
            page = body.get("nextPageToken")
            if page is None:
                sync_token = body["nextSyncToken"]
                return None

    made: list[dict[str, Any]] = []
    for op in ops:
        if op[0] == "sync":
            pull()
        elif op[0] == "expire":
            google.expire_sync_tokens()
        else:
            play(op, google, GOOGLE_USER, made)
    pull()
    fresh = api.get(events, params={"singleEvents": "true", "maxResults": 2500}).json()["items"]
    api.close()
    assert {i["id"]: shape(i) for i in replica.values()} == {i["id"]: shape(i) for i in fresh}


@SETTINGS
@given(ops=operations)
@example(ops=SERIES_MOVED)
@example(ops=INSTANCE_CANCELLED)
@example(ops=DELETED_AFTER_EXPIRY)
def test_graph_delta_converges_on_the_calendar_view(microsoft_server, ops):
    graph = microsoft_server
    graph.reset()
    graph.register_client(CLIENT_ID, CLIENT_SECRET)
    token = bearer(graph, graph.connect(MS_USER, CLIENT_ID, MS_TENANT))
    api = trusting_client(graph)
    api.headers["Authorization"] = f"Bearer {token}"
    api.headers["Prefer"] = "odata.maxpagesize=3"
    start = f"{graph.api_base}/me/calendarView/delta?startDateTime={WINDOW[0]}&endDateTime={WINDOW[1]}"
    replica: dict[str, dict[str, Any]] = {}
    link: str | None = None

    def pull() -> None:
        nonlocal link
        url = link or start
        while True:
            answer = api.get(url)
            if answer.status_code == 410:
                replica.clear()
                link = None
                return pull()
            body = answer.json()
            for item in body["value"]:
                if "@removed" in item:
                    replica.pop(item["id"], None)
                else:
                    replica[item["id"]] = item
            if "@odata.deltaLink" in body:
                link = body["@odata.deltaLink"]
                return None
            url = body["@odata.nextLink"]
            assert urlsplit(url).netloc == urlsplit(graph.api_base).netloc

    made: list[dict[str, Any]] = []
    for op in ops:
        if op[0] == "sync":
            pull()
        elif op[0] == "expire":
            graph.expire_delta_tokens()
        else:
            play(op, graph, MS_USER, made)
    pull()
    view = api.get(f"{graph.api_base}/me/calendarView", params={"startDateTime": WINDOW[0],
                                                                 "endDateTime": WINDOW[1]}).json()["value"]
    api.close()
    assert {i["id"]: shape(i) for i in replica.values()} == {i["id"]: shape(i) for i in view}
