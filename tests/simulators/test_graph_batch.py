"""The Graph simulator's JSON batching (``POST /v1.0/$batch``): each inner request is answered exactly as
the single endpoint answers it (schema, transaction ids, scopes, faults, the request log), answers are
matched by id, ``dependsOn`` holds back dependents of a failure with 424, and malformed batches are refused
as a whole."""

from __future__ import annotations

from typing import Any

import httpx

from devstack.sims.microsoft import MicrosoftGraphSimulator
from tests.support.simulators import MS_USER

EVENTS = "/me/calendar/events"


def event(n: int, **fields: Any) -> dict[str, Any]:
    return {"subject": f"Busy {n}", "start": {"dateTime": "2027-01-05T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-01-05T09:30:00", "timeZone": "UTC"}, **fields}


def create(n: int, request_id: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"id": request_id or str(n), "method": "POST", "url": EVENTS, "body": event(n, **fields),
            "headers": {"Content-Type": "application/json"}}


def send(mapi: httpx.Client, requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    answer = mapi.post("$batch", json={"requests": requests})
    assert answer.status_code == 200, answer.text
    return {item["id"]: item for item in answer.json()["responses"]}


def test_creates_in_one_batch_each_make_their_event_and_answer_by_id(graph, mapi):
    answers = send(mapi, [create(n) for n in range(4)])
    assert {key: item["status"] for key, item in answers.items()} == {"0": 201, "1": 201, "2": 201, "3": 201}
    assert sorted(e["subject"] for e in graph.events(MS_USER)) == [f"Busy {n}" for n in range(4)]
    assert len(graph.api_requests()) == 4  # the inner requests are the calls; the envelope is not one


def test_each_request_is_held_to_the_single_endpoints_rules_and_fails_alone(graph, mapi):
    answers = send(mapi, [
        create(0),
        create(1, colour="red"),  # not an event property: 400, as alone
        create(2, transactionId="tx-1"),
        create(3, "again", transactionId="tx-1"),  # the same transaction: Graph answers with the first event
        {"id": "gone", "method": "DELETE", "url": "/me/events/nope"},
    ])
    assert answers["0"]["status"] == 201 and answers["1"]["status"] == 400
    assert answers["again"]["body"]["id"] == answers["2"]["body"]["id"]
    assert answers["gone"]["status"] == 404
    assert len(graph.events(MS_USER)) == 2


def test_a_failed_dependency_holds_back_its_dependents(graph, mapi):
    answers = send(mapi, [create(1, colour="red"), {**create(2), "dependsOn": ["1"]}, create(3)])
    assert (answers["1"]["status"], answers["2"]["status"], answers["3"]["status"]) == (400, 424, 201)
    assert [e["subject"] for e in graph.events(MS_USER)] == ["Busy 3"]


def test_injected_throttling_reaches_the_inner_requests_it_matches(graph, mapi):
    graph.inject(status=429, retry_after=3, path_contains="/events", after=1)
    answers = send(mapi, [create(n) for n in range(3)])
    assert [answers[str(n)]["status"] for n in range(3)] == [201, 429, 201]
    assert answers["1"]["headers"]["Retry-After"] == "3"


def test_malformed_batches_are_refused_as_a_whole(graph: MicrosoftGraphSimulator, mapi):
    bodies: list[dict[str, Any]] = [
        {"requests": []},
        {"requests": [create(n) for n in range(21)]},
        {"requests": [create(0), create(1, "0")]},  # an id twice
        {"requests": [{**create(0), "headers": {}}]},  # a body without Content-Type
        {"requests": [{**create(0), "url": "https://graph.microsoft.com/v1.0" + EVENTS}]},
        {"requests": [{**create(0), "dependsOn": ["9"]}]},  # depends on nothing before it
        {"requests": [{"id": "1", "method": "POST", "url": "/$batch", "body": {"requests": []},
                       "headers": {"Content-Type": "application/json"}}]},
    ]
    for body in bodies:
        assert mapi.post("$batch", json=body).status_code == 400, body
    assert graph.events(MS_USER) == []


def test_the_batch_needs_a_valid_token_like_any_request(graph, mapi):
    refused = mapi.post("$batch", json={"requests": [create(0)]}, headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401 and graph.events(MS_USER) == []
