"""The Graph simulator's subscriptions: the validation handshake, limits, change notifications with
clientState, renewal, deletion, expiry, lifecycle notifications, and unreliable delivery."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from devstack.sims.microsoft import MicrosoftGraphSimulator
from devstack.sims.receiver import Answer, Received, WebhookReceiver
from tests.simulators.conftest import bearer
from tests.support.simulators import CLIENT_ID, MS_TENANT, MS_USER

START = dt.datetime(2027, 1, 4, 9, 30, tzinfo=ZoneInfo("Europe/Stockholm"))


def expiry(graph: MicrosoftGraphSimulator, minutes: float = 60 * 24) -> str:
    return (dt.datetime.fromtimestamp(graph.clock.now(), dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()


def subscribe(graph: MicrosoftGraphSimulator, mapi: httpx.Client, receiver: WebhookReceiver,
              **extra: Any) -> httpx.Response:
    body = {"changeType": "created,updated,deleted", "notificationUrl": f"{receiver.url}/graph?route=7",
            "resource": "me/events", "expirationDateTime": expiry(graph), "clientState": "per-subscription-secret",
            **extra}
    return mapi.post("subscriptions", json=body)


def notices(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [item for r in receiver.received if r.param("validationToken") is None
            for item in json.loads(r.body)["value"]]


def is_notice(request: Received) -> bool:
    return request.param("validationToken") is None


def test_creating_a_subscription_validates_the_notification_url_first(graph, mapi, receiver):
    answer = subscribe(graph, mapi, receiver)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["changeType"], body["resource"], body["applicationId"], body["clientState"]) == (
        "created,deleted,updated", "me/events", CLIENT_ID, "per-subscription-secret")
    [handshake] = receiver.received
    token = handshake.param("validationToken")
    assert token and token.startswith("Validation: Testing client application reachability")
    assert handshake.param("route") == "7" and handshake.headers["content-type"].startswith("text/plain")
    assert mapi.get(f"subscriptions/{body['id']}").json()["id"] == body["id"]


def echo(request: Received) -> bytes:
    return (request.param("validationToken") or "").encode()


@pytest.mark.parametrize("answer", [
    lambda _r: Answer(200, b"not the token"), lambda r: Answer(500, echo(r)), lambda r: Answer(202, echo(r)),
    lambda r: Answer(200, echo(r), "application/json")], ids=["wrong-token", "500", "202", "json"])
def test_a_wrong_handshake_answer_refuses_the_subscription(graph, mapi, receiver, answer):
    receiver.answer = answer
    refused = subscribe(graph, mapi, receiver)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "InvalidRequest"
    assert "validation request failed" in refused.json()["error"]["message"]
    assert graph.active_subscriptions() == []


def test_a_slow_handshake_times_out_and_the_lifecycle_url_is_validated_too(graph, mapi, receiver):
    graph.subscriptions.validation_timeout = 0.3
    receiver.answer = lambda request: Answer(200, echo(request), delay=1.0)
    timed_out = subscribe(graph, mapi, receiver)
    assert timed_out.json()["error"]["message"] == "Subscription validation request timed out."
    with WebhookReceiver() as lifecycle:
        lifecycle.answer = lambda _request: Answer(404)
        receiver.answer = lambda request: Answer(200, echo(request))
        refused = subscribe(graph, mapi, receiver, lifecycleNotificationUrl=lifecycle.url)
        assert refused.status_code == 400 and len(lifecycle.received) == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"expirationDateTime": "2020-01-01T00:00:00Z"}, "in the future"),
    ({"clientState": "s" * 129}, "128"),
    ({"changeType": "created,moved"}, "changeType"),
    ({"resource": "me/messages"}, "not supported"),
    ({"includeResourceData": True}, "includeResourceData"),
    ({"notificationUrl": "http://127.0.0.1:9/x", "lifecycleNotificationUrl": None}, "https"),
    ({"colour": "red"}, "does not exist"),
])
def test_a_subscription_outside_graphs_rules_is_refused_without_a_handshake(graph, mapi, receiver, change, message):
    if "notificationUrl" in change:
        graph.subscriptions.allow_http_loopback = False
    refused = subscribe(graph, mapi, receiver, **change)
    assert refused.status_code == 400 and message in refused.json()["error"]["message"]
    assert receiver.received == []


def test_the_expiration_is_capped_at_the_documented_maximum(graph, mapi, receiver):
    too_far = subscribe(graph, mapi, receiver, expirationDateTime=expiry(graph, 10081))
    assert too_far.json()["error"]["message"] == "Subscription expiration can only be 10080 minutes in the future."
    assert subscribe(graph, mapi, receiver, expirationDateTime=expiry(graph, 10079)).status_code == 201


def test_changes_are_notified_with_the_client_state_in_graphs_shape(graph, mapi, receiver):
    subscription = subscribe(graph, mapi, receiver).json()
    event = graph.create_event(MS_USER, START, START + dt.timedelta(hours=1), "Dentist")
    graph.move_event(MS_USER, event["id"], START + dt.timedelta(hours=2))
    graph.delete_event(MS_USER, event["id"])
    receiver.wait_for(3, where=is_notice)
    created, updated, deleted = notices(receiver)
    mailbox = graph.mailboxes.mailboxes[MS_USER]
    assert created == {
        "subscriptionId": subscription["id"], "subscriptionExpirationDateTime": subscription["expirationDateTime"],
        "changeType": "created", "resource": f"Users/{mailbox.object_id}/Events/{event['id']}",
        "resourceData": {"@odata.type": "#Microsoft.Graph.Event",
                         "@odata.id": f"Users/{mailbox.object_id}/Events/{event['id']}",
                         "@odata.etag": event["@odata.etag"], "id": event["id"]},
        "clientState": "per-subscription-secret", "tenantId": MS_TENANT}
    assert updated["changeType"] == "updated" and updated["resourceData"]["@odata.etag"] != event["@odata.etag"]
    assert deleted["changeType"] == "deleted" and "@odata.etag" not in deleted["resourceData"]
    assert all(r.param("route") == "7" for r in receiver.received)


def test_only_the_subscribed_change_types_and_calendar_are_notified(graph, mapi, receiver):
    other = graph.add_calendar(MS_USER, "Personal")
    subscribe(graph, mapi, receiver, changeType="created", resource=f"me/calendars/{other}/events")
    event = graph.create_event(MS_USER, START, START + dt.timedelta(hours=1), calendar=other)
    graph.update_event(MS_USER, event["id"], subject="changed")
    graph.create_event(MS_USER, START, START + dt.timedelta(hours=1))  # the default calendar
    graph.push.wait_idle()
    assert [(n["changeType"], n["resourceData"]["id"]) for n in notices(receiver)] == [("created", event["id"])]


def test_renewing_deleting_and_expiring_a_subscription(graph, mapi, receiver):
    subscription = subscribe(graph, mapi, receiver).json()
    path = f"subscriptions/{subscription['id']}"
    renewed = mapi.patch(path, json={"expirationDateTime": expiry(graph, 3000)})
    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"] != subscription["expirationDateTime"]
    assert mapi.patch(path, json={"clientState": "new"}).status_code == 400
    assert mapi.patch(path, json={"expirationDateTime": expiry(graph, 20000)}).status_code == 400
    with WebhookReceiver() as moved:
        assert mapi.patch(path, json={"notificationUrl": moved.url}).status_code == 200
        assert len(moved.received) == 1  # the new URL was validated
    assert [s["id"] for s in mapi.get("subscriptions").json()["value"]] == [subscription["id"]]

    graph.clock.advance(3001 * 60)
    mapi.headers["Authorization"] = f"Bearer {bearer(graph, graph.connect(MS_USER, CLIENT_ID, MS_TENANT))}"
    assert mapi.get(path).status_code == 404
    graph.create_event(MS_USER, START, START + dt.timedelta(hours=1))
    graph.push.wait_idle()
    assert notices(receiver) == []

    again = subscribe(graph, mapi, receiver).json()
    assert mapi.delete(f"subscriptions/{again['id']}").status_code == 204
    assert mapi.get(f"subscriptions/{again['id']}").status_code == 404


def test_another_app_or_user_cannot_see_a_subscription(graph, mapi, receiver):
    subscription = subscribe(graph, mapi, receiver).json()
    stranger = bearer(graph, graph.connect("someone@northside.example", CLIENT_ID, MS_TENANT))
    answer = mapi.get(f"subscriptions/{subscription['id']}", headers={"Authorization": f"Bearer {stranger}"})
    assert answer.status_code == 404


def test_lifecycle_notifications_pause_resume_and_remove(graph, mapi, receiver):
    with WebhookReceiver() as lifecycle:
        subscription = subscribe(graph, mapi, receiver, lifecycleNotificationUrl=lifecycle.url + "/life").json()
        assert graph.lifecycle(subscription["id"], "reauthorizationRequired")
        [challenge] = [json.loads(r.body)["value"][0] for r in lifecycle.wait_for(1, where=is_notice)]
        assert challenge == {"subscriptionId": subscription["id"],
                             "subscriptionExpirationDateTime": subscription["expirationDateTime"],
                             "tenantId": MS_TENANT, "clientState": "per-subscription-secret",
                             "lifecycleEvent": "reauthorizationRequired"}
        graph.create_event(MS_USER, START, START + dt.timedelta(hours=1), "while paused")
        graph.push.wait_idle()
        assert notices(receiver) == []
        assert mapi.post(f"subscriptions/{subscription['id']}/reauthorize").status_code == 204
        graph.create_event(MS_USER, START, START + dt.timedelta(hours=1), "after")
        receiver.wait_for(1, where=is_notice)

        assert graph.lifecycle(subscription["id"], "missed")
        assert graph.lifecycle(subscription["id"], "subscriptionRemoved")
        events = [json.loads(r.body)["value"][0]["lifecycleEvent"] for r in lifecycle.wait_for(3, where=is_notice)]
        assert events == ["reauthorizationRequired", "missed", "subscriptionRemoved"]
        assert mapi.get(f"subscriptions/{subscription['id']}").status_code == 404
    plain = subscribe(graph, mapi, receiver).json()
    assert graph.lifecycle(plain["id"], "missed") is False  # no lifecycle URL, nothing sent


def test_graph_notifications_can_be_dropped_duplicated_and_are_retried_on_failure(graph, mapi, receiver):
    subscribe(graph, mapi, receiver)
    graph.push.drop()
    graph.push.duplicate()
    for hour in range(2):
        graph.create_event(MS_USER, START + dt.timedelta(hours=hour), START + dt.timedelta(hours=hour, minutes=30))
    receiver.wait_for(2, where=is_notice)
    graph.push.wait_idle()
    assert len({n["resourceData"]["id"] for n in notices(receiver)}) == 1 and len(notices(receiver)) == 2

    receiver.clear()
    answers = iter([Answer(429), Answer(202)])
    receiver.answer = lambda _request: next(answers, Answer(202))
    graph.create_event(MS_USER, START, START + dt.timedelta(hours=1))
    receiver.wait_for(2, where=is_notice)
    graph.push.wait_idle()
    assert [(d.attempt, d.status) for d in graph.push.deliveries[-2:]] == [(1, 429), (2, 202)]
