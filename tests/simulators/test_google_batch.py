"""The Google simulator's batch endpoint (``POST /batch/calendar/v3``): each inner request is answered exactly
as the single endpoint answers it (schema, ids, scopes, faults, the request log), the outer headers apply
to every part, answers come back per part with the request's Content-ID, and malformed batches are refused
as a whole. Driven with the same codec calsync uses (``calsync.http.batch``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from calsync.http import batch
from devstack.sims.google import GoogleCalendarSimulator
from tests.support.simulators import GOOGLE_USER

CAL = GOOGLE_USER
EVENTS = f"/calendar/v3/calendars/{CAL}/events"


def event(n: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"ev{n:08d}", "summary": f"Busy {n}", "start": {"dateTime": "2027-01-05T09:00:00Z"},
            "end": {"dateTime": "2027-01-05T09:30:00Z"}, **fields}


def send(google: GoogleCalendarSimulator, gapi: httpx.Client, parts: list[batch.Part],
         **headers: str) -> list[httpx.Response]:
    content_type, body = batch.encode(parts)
    answer = httpx.post(google.url + "/batch/calendar/v3", content=body, timeout=10,
                        headers={"Content-Type": content_type, "Authorization": gapi.headers["Authorization"],
                                 **headers})
    assert answer.status_code == 200, answer.text
    return batch.decode(answer, len(parts))


def test_inserts_in_one_batch_each_make_their_event_and_answer_in_order(google, gapi):
    answers = send(google, gapi, [batch.Part("POST", EVENTS + "?sendUpdates=none", event(n)) for n in range(5)])
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["id"] for a in answers] == [f"ev{n:08d}" for n in range(5)]
    assert sorted(e["id"] for e in google.events(CAL)) == [f"ev{n:08d}" for n in range(5)]
    # each inner request is logged as a call of its own (it counts against the quota as one)
    assert len(google.calls("POST", path_contains=EVENTS)) == 5


def test_each_part_is_held_to_the_single_endpoints_rules_and_fails_alone(google, gapi):
    google.create_event(CAL, *_times(), event_id="ev00000001")
    answers = send(google, gapi, [
        batch.Part("POST", EVENTS, event(0)),
        batch.Part("POST", EVENTS, event(1)),  # the id is taken: 409 duplicate, as alone
        batch.Part("POST", EVENTS, event(2, colour="red")),  # not an Event field: 400, as alone
        batch.Part("PUT", f"{EVENTS}/ev00000001", event(1, summary="x"), {"If-Match": '"not-it"'}),  # 412
        batch.Part("DELETE", f"{EVENTS}/nope00000"),  # unknown: 404
    ])
    assert [a.status_code for a in answers] == [200, 409, 400, 412, 404]
    assert answers[1].json()["error"]["errors"][0]["reason"] == "duplicate"
    assert {e["id"] for e in google.events(CAL)} == {"ev00000000", "ev00000001"}


def test_the_outer_authorization_applies_unless_a_part_brings_its_own(google, gapi):
    answers = send(google, gapi, [batch.Part("POST", EVENTS, event(0)),
                                  batch.Part("POST", EVENTS, event(1), {"Authorization": "Bearer not-a-token"})])
    assert [a.status_code for a in answers] == [200, 401]


def test_injected_faults_reach_the_inner_requests_they_match(google, gapi):
    google.inject(status=429, retry_after=7, path_contains="/events", after=1)
    answers = send(google, gapi, [batch.Part("POST", EVENTS, event(n)) for n in range(3)])
    assert [a.status_code for a in answers] == [200, 429, 200]
    assert answers[1].headers["Retry-After"] == "7"


def test_a_dropped_inner_answer_loses_the_whole_batch_answer_after_the_work_is_done(google, gapi):
    google.inject(method="POST", path_contains="/events", drop_after_commit=True)
    content_type, body = batch.encode([batch.Part("POST", EVENTS, event(n)) for n in range(2)])
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(google.url + "/batch/calendar/v3", content=body, timeout=10,
                   headers={"Content-Type": content_type, "Authorization": gapi.headers["Authorization"]})
    assert len(google.events(CAL)) == 2


def test_malformed_batches_are_refused_as_a_whole(google, gapi):
    auth = {"Authorization": gapi.headers["Authorization"]}
    url = google.url + "/batch/calendar/v3"
    assert httpx.post(url, json={"requests": []}, headers=auth).status_code == 400  # not multipart
    for path in ("https://www.googleapis.com" + EVENTS, "/gmail/v1/users/me/messages", "/batch/calendar/v3"):
        content_type, body = batch.encode([batch.Part("POST", path, event(0))])
        refused = httpx.post(url, content=body, headers={"Content-Type": content_type, **auth})
        assert refused.status_code == 400, path
    content_type, body = batch.encode([batch.Part("GET", EVENTS) for _ in range(1001)])
    assert httpx.post(url, content=body, headers={"Content-Type": content_type, **auth}).status_code == 400
    assert google.events(CAL) == []


def _times() -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(2027, 1, 5, 9, tzinfo=dt.UTC)
    return start, start + dt.timedelta(minutes=30)
