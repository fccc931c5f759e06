"""The Google simulator's push notifications: events.watch validation, the sync/exists/not_exists messages
and their headers, channel expiry, channels.stop, and the outbox switches (drop, duplicate, delay,
reorder, hold) and retries."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from devstack.sims.google import GoogleCalendarSimulator
from devstack.sims.receiver import Answer, Received, WebhookReceiver
from tests.simulators.conftest import bearer
from tests.support.simulators import CLIENT_ID, GOOGLE_USER

CAL = GOOGLE_USER
START = dt.datetime(2027, 1, 4, 9, 30, tzinfo=ZoneInfo("America/New_York"))
FULL = "https://www.googleapis.com/auth/calendar"


def watch(api: httpx.Client, address: str, channel_id: str = "chan-1", **extra: Any) -> httpx.Response:
    return api.post(f"calendars/{CAL}/events/watch", json={"id": channel_id, "type": "web_hook", "address": address,
                                                           **extra})


def edit(google: GoogleCalendarSimulator, times: int = 1) -> None:
    for n in range(times):
        google.create_event(CAL, START + dt.timedelta(days=n), START + dt.timedelta(days=n, hours=1))


def states(received: list[Received]) -> list[str]:
    return [r.headers["x-goog-resource-state"] for r in received]


def test_a_channel_gets_a_sync_message_then_one_exists_per_change_with_googles_headers(google, gapi, receiver):
    answer = watch(gapi, receiver.url + "/hooks/google?x=1", token="secret-per-channel")
    assert answer.status_code == 200
    channel = answer.json()
    assert (channel["kind"], channel["id"], channel["token"]) == ("api#channel", "chan-1", "secret-per-channel")
    edit(google, 2)
    first, *changes = receiver.wait_for(3)
    assert states([first, *changes]) == ["sync", "exists", "exists"]
    assert (first.path, first.query, first.body) == ("/hooks/google", {"x": ["1"]}, b"")
    headers = first.headers
    assert headers["x-goog-channel-id"] == "chan-1" and headers["x-goog-message-number"] == "1"
    assert headers["x-goog-resource-id"] == channel["resourceId"]
    uri = f"{google.api_base}/calendars/{CAL}/events?alt=json"
    assert headers["x-goog-resource-uri"] == channel["resourceUri"] == uri
    assert headers["x-goog-channel-token"] == "secret-per-channel"
    assert headers["x-goog-channel-expiration"].endswith(" GMT")
    assert headers["user-agent"].startswith("APIs-Google")
    numbers = [int(r.headers["x-goog-message-number"]) for r in (first, *changes)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert watch(gapi, receiver.url, "chan-2").json()["resourceId"] == channel["resourceId"]  # stable per calendar


def test_watch_holds_the_channel_to_googles_rules(google, gapi, receiver):
    assert watch(gapi, receiver.url, "x" * 65).status_code == 400
    assert watch(gapi, receiver.url, type="email").status_code == 400
    assert watch(gapi, receiver.url, token="t" * 257).status_code == 400
    assert watch(gapi, receiver.url, colour="red").status_code == 400  # not a Channel field
    assert watch(gapi, receiver.url, expiration=str(int(google.clock.now() * 1000) - 1)).status_code == 400
    google.channels.allow_http_loopback = False
    refused = watch(gapi, receiver.url)
    assert refused.status_code == 400 and "HTTPS" in refused.json()["error"]["message"]
    assert watch(gapi, "https://127.0.0.1:9/hook", "https-ok").status_code == 200
    duplicate = watch(gapi, "https://127.0.0.1:9/hook", "https-ok")
    assert duplicate.json()["error"]["errors"][0]["reason"] == "channelIdNotUnique"


def test_a_channel_lives_for_its_ttl_and_then_sends_nothing(google, gapi, receiver):
    now_ms = int(google.clock.now() * 1000)
    channel = watch(gapi, receiver.url, params={"ttl": "60"}).json()
    assert now_ms + 59_000 <= int(channel["expiration"]) <= now_ms + 61_000
    asked = now_ms + 30_000
    assert int(watch(gapi, receiver.url, "short", expiration=asked).json()["expiration"]) == asked  # a JSON number
    receiver.wait_for(2)
    google.clock.advance(61)
    edit(google)
    google.push.wait_idle()
    assert states(receiver.received) == ["sync", "sync"]
    assert google.watch_channels() == []
    stop = gapi.post("channels/stop", json={"id": "chan-1", "resourceId": channel["resourceId"]})
    assert stop.status_code == 404


def test_only_the_creating_client_and_user_may_stop_a_channel(google, gapi, receiver):
    channel = watch(gapi, receiver.url).json()
    body = {"id": channel["id"], "resourceId": channel["resourceId"]}
    google.register_client("other-client", "other-secret")
    grant = google.tokens.redeem(google.tokens.consent("other-client", GOOGLE_USER, scope=FULL), "other-client")
    assert grant is not None
    other_client = google.tokens.issue(grant)[0]
    other_user = bearer(google, google.connect("someone.else@gmail.example", CLIENT_ID))
    for token, status in ((other_client, 404), (other_user, 403)):
        assert gapi.post("channels/stop", json=body, headers={"Authorization": f"Bearer {token}"}).status_code == status
    assert gapi.post("channels/stop", json={**body, "resourceId": "wrong"}).status_code == 404
    assert gapi.post("channels/stop", json=body).status_code == 204
    edit(google)
    google.push.wait_idle()
    assert states(receiver.received) == ["sync"]
    assert gapi.post("channels/stop", json=body).status_code == 404


def test_deleting_the_watched_calendar_sends_not_exists(google, gapi, receiver):
    calendar = gapi.post("calendars", json={"summary": "Clinic appointments"}).json()
    gapi.post(f"calendars/{calendar['id']}/events/watch", json={"id": "c", "type": "web_hook",
                                                                "address": receiver.url})
    assert gapi.delete(f"calendars/{calendar['id']}").status_code == 204
    assert states(receiver.wait_for(2)) == ["sync", "not_exists"]
    assert gapi.get(f"calendars/{calendar['id']}/events").status_code == 404


def test_notifications_can_be_dropped_duplicated_delayed_and_reordered(google, gapi, receiver):
    watch(gapi, receiver.url)
    receiver.wait_for(1)

    def numbers() -> list[int]:
        return [int(r.headers["x-goog-message-number"]) for r in receiver.received[1:]]

    google.push.drop()
    edit(google, 2)
    google.push.wait_idle()
    assert len(numbers()) == 1 and len(google.push.dropped) == 1

    receiver.clear()
    google.push.duplicate()
    edit(google)
    receiver.wait_for(2)
    assert len({r.headers["x-goog-message-number"] for r in receiver.received}) == 1

    receiver.clear()
    google.push.reorder(3)
    edit(google, 3)
    got = [int(r.headers["x-goog-message-number"]) for r in receiver.wait_for(3)]
    assert got == sorted(got, reverse=True)

    receiver.clear()
    google.push.delay(0.3)
    edit(google, 2)
    got = [int(r.headers["x-goog-message-number"]) for r in receiver.wait_for(2)]
    assert got[0] > got[1]  # the second change overtook the delayed first

    receiver.clear()
    google.push.hold()
    edit(google, 3)
    assert len(google.push.held) == 3 and receiver.received == []
    google.push.release([1, 2, 0])
    got = [int(r.headers["x-goog-message-number"]) for r in receiver.wait_for(3)]
    assert got[2] < got[0] < got[1]


def test_a_5xx_answer_is_retried_and_a_4xx_is_not(google, gapi, receiver):
    answers = iter([Answer(503), Answer(200)])
    receiver.answer = lambda _request: next(answers, Answer(404))
    watch(gapi, receiver.url)
    receiver.wait_for(2)
    google.push.wait_idle()
    assert [(d.attempt, d.status) for d in google.push.deliveries] == [(1, 503), (2, 200)]
    edit(google)
    google.push.wait_idle()
    assert [(d.attempt, d.status) for d in google.push.deliveries][2:] == [(1, 404)]


def test_https_receivers_are_reached_only_when_their_certificate_is_trusted(google, gapi):
    with WebhookReceiver(tls=True) as secure:
        assert secure.ca_bundle is not None
        watch(gapi, secure.url, "untrusted")
        google.push.wait_idle()
        assert google.push.deliveries[-1].status is None and "SSL" in (google.push.deliveries[-1].error or "")
        google.push.trust(secure.ca_bundle)
        watch(gapi, secure.url, "trusted")
        assert secure.wait_for(1)[0].headers["x-goog-channel-id"] == "trusted"


@pytest.mark.parametrize("address", ["http://192.0.2.1/hook", "http://example.com/hook"])
def test_the_simulator_never_calls_beyond_loopback(google, gapi, address):
    google.channels.allow_http_loopback = False
    https = address.replace("http://", "https://")
    assert watch(gapi, https).status_code == 200
    google.push.wait_idle()
    assert google.push.deliveries[-1].error == "refused: the simulators only call loopback addresses"
