"""Booking platforms end to end: a signed HTTP request to the real on_webhook handler, through the bus, the
changes queue and on_appointment_change, to the event in a Radicale calendar — read back from Radicale.

Requests go through the deployment's local HTTP API, routed from template.yaml; fetch-backs go to the platform
simulator (devstack/sims/platforms.py) on 127.0.0.1. Refused requests
(forged, tampered, stale, replayed) must change nothing: no event reaches the queue.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.domain.model import ClientDisplay, PrivacySettings
from calsync.services import sweeper
from calsync.store import platform_intake
from calsync.store.platform_intake import Kind
from devstack.clinicians import CalDavClinician, connect_caldav
from devstack.sims.platforms import PlatformSimulator
from devstack.stack import LocalStack
from tests.support.pipeline import calendar, captured_logs, drain
from tests.support.platform_hooks import Hook, emitted_metrics, post
from tests.support.platform_samples import Sample, load
from tests.support.platform_signing import SIGNED, TIMESTAMPED
from tests.support.reliability import reset_sweeper

NEW_YORK = ZoneInfo("America/New_York")
PRIVACY = PrivacySettings(client_display=ClientDisplay.INITIALS, show_visit_type=True)
FIRST = {
    "calendly": "invitee-created", "acuity": "scheduled", "square": "booking-created",
    "hubspot": "meeting-created", "calcom": "booking-created", "jane": "appointment-booked",
    "salesforce": "outbound-message", "simplybook": "create", "timetap": "appointment-created",
    "youcanbookme": "booked", "appointlet": "meeting-scheduled", "setmore": "appointment",
    "bookafy": "appointment", "zoho_bookings": "appointment",
}
SECRET_URL = sorted(set(FIRST) - set(SIGNED))
FETCHED_BACK = [p for p in SECRET_URL if p != "appointlet"]  # Appointlet has no API to read a meeting from


def iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def only(values: dict[str, Any]) -> Any:
    (value,) = values.values()
    return value


def expected_times(sample: Sample) -> tuple[dt.datetime, dt.datetime]:
    """Where the sample says the appointment is, read straight from the platform's payload or API answer."""
    body, api = sample.body, sample.api
    match sample.platform:
        case "calendly":
            event = body["payload"]["scheduled_event"]
            return iso(event["start_time"]), iso(event["end_time"])
        case "acuity":
            found = only(api)
            return iso(found["datetime"]), iso(found["datetime"]) + dt.timedelta(minutes=int(found["duration"]))
        case "square":
            booking = body["data"]["object"]["booking"]
            minutes = sum(s["duration_minutes"] for s in booking["appointment_segments"])
            return iso(booking["start_at"]), iso(booking["start_at"]) + dt.timedelta(minutes=minutes)
        case "hubspot":
            found = only(api)["properties"]
            if "appointment_preference" in found:
                start = iso(found["appointment_preference"])
                return start, start + dt.timedelta(minutes=30)
            return iso(found["hs_meeting_start_time"]), iso(found["hs_meeting_end_time"])
        case "calcom":
            return iso(body["payload"]["startTime"]), iso(body["payload"]["endTime"])
        case "jane":
            found = only(api)["appointment"]
            return iso(found["start_at"]), iso(found["end_at"])
        case "salesforce":
            found = only(api)
            return iso(found["SchedStartTime"]), iso(found["SchedEndTime"])
        case "simplybook":
            found = only(api)
            return (dt.datetime.fromisoformat(found["start_date_time"]).replace(tzinfo=NEW_YORK),
                    dt.datetime.fromisoformat(found["end_date_time"]).replace(tzinfo=NEW_YORK))
        case "timetap":
            day = dt.date.fromisoformat(body["startDate"])
            return (dt.datetime.combine(day, dt.time(*divmod(body["startTime"], 100)), NEW_YORK),
                    dt.datetime.combine(day, dt.time(*divmod(body["endTime"], 100)), NEW_YORK))
        case "youcanbookme":
            found = only(api)
            return iso(found["startsAt"]), iso(found["endsAt"])
        case "appointlet":
            return iso(body["entity"]["start"]), iso(body["entity"]["end"])
        case "setmore":
            found = only(api)["data"]["appointment"]
            return iso(found["start_time"]), iso(found["end_time"])
        case "bookafy":
            found = only(api)["appointment"]
            return iso(found["start_time"]), iso(found["end_time"])
        case "zoho_bookings":
            found = only(api)["response"]["returnvalue"]
            return (dt.datetime.strptime(found["start_time"], "%d-%b-%Y %H:%M:%S").replace(tzinfo=NEW_YORK),
                    dt.datetime.strptime(found["end_time"], "%d-%b-%Y %H:%M:%S").replace(tzinfo=NEW_YORK))
    raise AssertionError(sample.platform)


def times_on(clinician: CalDavClinician) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(e.start, e.end) for e in calendar(clinician)]  # type: ignore[misc]


@pytest.fixture
def clinician(stack: LocalStack, tenant_id: str) -> CalDavClinician:
    return connect_caldav(stack, tenant_id=tenant_id, practitioner_id="dr-okafor", privacy=PRIVACY)


def hook(stack: LocalStack, platform_sim: PlatformSimulator, tenant_id: str, platform: str) -> Hook:
    return Hook(stack, platform_sim, tenant_id, platform)


def follow_ups(at: dt.datetime) -> None:
    """A sweeper run at ``at`` (its booking-platform follow-ups job among the others), with nothing left of
    earlier tests' work to spend its budget on."""
    reset_sweeper(at)
    sweeper.run(at)


# -- every row of the table -------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", sorted(FIRST))
def test_a_platform_booking_reaches_the_clinicians_calendar(stack, stack_resources, tenant_id, platform_sim,
                                                            clinician, platform):
    sample = load(platform, FIRST[platform])
    reply = hook(stack, platform_sim, tenant_id, platform).send(sample)
    assert reply.status == 200, reply.body
    assert drain(stack, stack_resources).received == 1
    events = calendar(clinician)
    assert [(e.start, e.end) for e in events] == [expected_times(sample)]
    assert events[0].attendees == 0
    assert events[0].summary.startswith("[Main Street Family Practice]")


def test_a_lead_form_preference_becomes_a_tentative_hold(stack, stack_resources, tenant_id, platform_sim,
                                                         clinician):
    sample = load("hubspot", "lead-form-preference")
    assert hook(stack, platform_sim, tenant_id, "hubspot").send(sample).status == 200
    drain(stack, stack_resources)
    (event,) = calendar(clinician)
    assert (event.start, event.end) == expected_times(sample)
    assert event.summary == "[Main Street Family Practice] C.L. · Tentative hold"


def test_a_deleted_meeting_leaves_the_calendar(stack, stack_resources, tenant_id, platform_sim, clinician):
    source = hook(stack, platform_sim, tenant_id, "hubspot")
    source.send(load("hubspot", "meeting-created"))
    drain(stack, stack_resources)
    assert len(calendar(clinician)) == 1
    platform_sim.remove("hubspot", "/crm/v3/objects/meetings/51200077")
    assert source.send(load("hubspot", "meeting-deleted")).status == 200
    drain(stack, stack_resources)
    assert calendar(clinician) == []


# -- refused requests change nothing ---------------------------------------------------------------------


@pytest.mark.parametrize("platform", sorted(FIRST))
def test_a_replayed_request_is_refused_and_changes_nothing(stack, stack_resources, tenant_id, platform_sim,
                                                           clinician, platform):
    source = hook(stack, platform_sim, tenant_id, platform)
    sample = load(platform, FIRST[platform])
    source.serve(sample)
    event = source.request(sample)
    assert post(event).status == 200
    with emitted_metrics() as metrics:
        again = post(event)
    assert (again.status, again.json) == (401, {"error": "replay"})
    assert metrics[("WebhookRejected", "replay")] == 1
    assert drain(stack, stack_resources).received == 1
    assert len(calendar(clinician)) == 1


@pytest.mark.parametrize("platform", sorted(FIRST))
def test_a_forged_request_is_refused_and_changes_nothing(stack, stack_resources, tenant_id, platform_sim,
                                                         clinician, platform):
    source = hook(stack, platform_sim, tenant_id, platform)
    sample = load(platform, FIRST[platform])
    source.serve(sample)
    if platform in SIGNED:
        event = source.request(sample, secret="a-guessed-secret")
    else:
        event = source.request(sample, path=f"/webhooks/platforms/{platform}/{tenant_id}/{'x' * 43}")
    with emitted_metrics() as metrics:
        reply = post(event)
    assert (reply.status, reply.json) == (401, {"error": "signature"})
    assert metrics[("WebhookRejected", "signature")] == 1
    assert drain(stack, stack_resources).received == 0
    assert calendar(clinician) == []


@pytest.mark.parametrize("platform", SIGNED)
def test_a_tampered_body_is_refused_and_changes_nothing(stack, stack_resources, tenant_id, platform_sim, clinician,
                                                        platform):
    source = hook(stack, platform_sim, tenant_id, platform)
    sample = load(platform, FIRST[platform])
    source.serve(sample)
    honest = source.request(sample)
    tampered = source.request(sample, body=sample.raw.replace(b"1", b"2", 1))
    assert tampered.body != honest.body
    reply = post(tampered)
    assert (reply.status, reply.json) == (401, {"error": "signature"})
    assert drain(stack, stack_resources).received == 0
    assert calendar(clinician) == []


@pytest.mark.parametrize("platform", FETCHED_BACK)
def test_an_unsigned_callback_publishes_only_what_the_platform_confirms(stack, stack_resources, tenant_id,
                                                                        platform_sim, clinician, platform):
    """On a secret URL, a body can be altered by whoever knows the URL: calsync uses it only for the
    booking's reference, so the calendar shows the platform's state, and an unknown booking is refused."""
    source = hook(stack, platform_sim, tenant_id, platform)
    sample = load(platform, FIRST[platform])
    source.serve(sample)
    platform_sim.reset()  # the platform has no bookings at all now
    platform_sim.require_headers(platform, {"Authorization": "Bearer api-token-e2e-8c2a"})
    with emitted_metrics() as metrics:
        reply = post(source.request(sample))
    assert (reply.status, reply.json) == (401, {"error": "unconfirmed"})
    assert metrics[("WebhookRejected", "unconfirmed")] == 1
    assert drain(stack, stack_resources).received == 0
    assert calendar(clinician) == []


@pytest.mark.parametrize("platform", sorted(TIMESTAMPED))
def test_a_stale_request_is_refused_and_changes_nothing(stack, stack_resources, tenant_id, platform_sim, clinician,
                                                        platform):
    source = hook(stack, platform_sim, tenant_id, platform)
    sample = load(platform, FIRST[platform])
    source.serve(sample)
    signed_at = dt.datetime.now(dt.UTC) - TIMESTAMPED[platform] - dt.timedelta(minutes=2)
    with emitted_metrics() as metrics:
        reply = post(source.request(sample, at=signed_at))
    assert (reply.status, reply.json) == (401, {"error": "stale"})
    assert metrics[("WebhookRejected", "stale")] == 1
    assert drain(stack, stack_resources).received == 0
    assert calendar(clinician) == []


def test_unknown_tenants_and_routes_are_refused(stack, stack_resources, tenant_id, platform_sim):
    source = hook(stack, platform_sim, tenant_id, "calcom")
    sample = load("calcom", "booking-created")
    elsewhere = source.request(sample, path="/webhooks/platforms/calcom/t-nobody-here")
    assert (post(elsewhere).status, post(elsewhere).json) == (401, {"error": "unknown_source"})
    assert post(source.request(sample, path="/webhooks/platforms/no-such-platform/t-x")).status == 404
    assert post(source.request(sample, path=f"/webhooks/platforms/calcom/{tenant_id}/extra")).status == 404
    assert post(source.request(sample, path=f"/webhooks/platforms/simplepractice/{tenant_id}")).status == 404
    assert post(source.request(sample, path="/webhooks/nowhere")).status == 404
    # a calendar provider's notification route: a platform's body is not a notification there
    assert post(source.request(sample, path="/webhooks/google")).status == 400
    assert drain(stack, stack_resources).received == 0


def test_salesforce_checks_the_organization_and_acknowledges(stack, stack_resources, tenant_id, platform_sim,
                                                              clinician):
    source = hook(stack, platform_sim, tenant_id, "salesforce")
    sample = load("salesforce", "outbound-message")
    reply = source.send(sample)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/xml")
    assert b"<Ack>true</Ack>" in reply.body
    other_org = sample.with_body(sample.body.replace("00D5e000000SAMPLE", "00D5e000000OTHERX"))
    assert source.send(other_org).status == 401
    entity = sample.with_body('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + sample.body.split("?>", 1)[1])
    assert source.send(entity).status == 400
    assert drain(stack, stack_resources).received == 1


def test_a_booking_for_an_unmapped_staff_member_is_accepted_but_not_guessed(stack, stack_resources, tenant_id,
                                                                            platform_sim):
    source = Hook(stack, platform_sim, tenant_id, "calcom", practitioner="dr-okafor")
    body = load("calcom", "booking-created").body
    body["payload"]["organizer"]["id"] = 9999
    with emitted_metrics() as metrics:
        reply = source.send(load("calcom", "booking-created").with_body(body))
    assert reply.status == 200 and reply.json["results"] == {"unmapped": 1}
    assert metrics[("PlatformChangeUnmapped", None)] == 1
    assert drain(stack, stack_resources).received == 0


# -- reschedules ------------------------------------------------------------------------------------------


def _one_event(clinician: CalDavClinician) -> Any:
    events = calendar(clinician)
    assert len(events) == 1, "a reschedule must move one event, never make two"
    return events[0]


def _booked(stack: LocalStack, stack_resources: Any, platform_sim: PlatformSimulator, tenant_id: str,
            clinician: CalDavClinician, platform: str, first: str) -> tuple[Hook, Any]:
    """A source of ``platform`` whose ``first`` sample is on the clinician's calendar: (source, its event)."""
    source = hook(stack, platform_sim, tenant_id, platform)
    source.send(load(platform, first))
    drain(stack, stack_resources)
    return source, _one_event(clinician)


def test_a_calendly_reschedule_moves_one_event(stack, stack_resources, tenant_id, platform_sim, clinician):
    source, before = _booked(stack, stack_resources, platform_sim, tenant_id, clinician, "calendly", "invitee-created")
    assert source.send(load("calendly", "invitee-canceled-rescheduled")).json["results"] == {"held": 1}
    drain(stack, stack_resources)
    assert _one_event(clinician).raw == before.raw  # no gap: the cancel half is held, not published
    source.send(load("calendly", "invitee-created-rescheduled"))
    drain(stack, stack_resources)
    after = _one_event(clinician)
    assert (after.start, after.end) == expected_times(load("calendly", "invitee-created-rescheduled"))
    assert (after.uid, after.href) == (before.uid, before.href)  # the same event, moved
    assert platform_intake.get(tenant_id, "calendly", Kind.HELD, "INV0000000000001") is None


def test_a_calendly_reschedule_delivered_new_half_first_moves_one_event(stack, stack_resources, tenant_id,
                                                                          platform_sim, clinician):
    source, before = _booked(stack, stack_resources, platform_sim, tenant_id, clinician, "calendly", "invitee-created")
    source.send(load("calendly", "invitee-created-rescheduled"))
    source.send(load("calendly", "invitee-canceled-rescheduled"))
    drain(stack, stack_resources)
    after = _one_event(clinician)
    assert after.uid == before.uid
    assert (after.start, after.end) == expected_times(load("calendly", "invitee-created-rescheduled"))


def test_a_reschedule_whose_new_half_never_arrives_is_resolved_by_the_sweeper(stack, stack_resources, tenant_id,
                                                                               platform_sim, clinician):
    source = hook(stack, platform_sim, tenant_id, "calendly")
    source.send(load("calendly", "invitee-created"))
    source.send(load("calendly", "invitee-canceled-rescheduled"))  # serves the new invitee on the API too
    drain(stack, stack_resources)
    follow_ups(dt.datetime.now(dt.UTC))  # still inside the hold window
    assert platform_intake.get(tenant_id, "calendly", Kind.HELD, "INV0000000000001") is not None
    follow_ups(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11))
    assert platform_intake.get(tenant_id, "calendly", Kind.HELD, "INV0000000000001") is None
    drain(stack, stack_resources)
    moved = _one_event(clinician)
    assert (moved.start, moved.end) == expected_times(load("calendly", "invitee-created-rescheduled"))
    source.send(load("calendly", "invitee-created-rescheduled"))  # the late webhook changes nothing more
    drain(stack, stack_resources)
    assert _one_event(clinician).raw == moved.raw


def test_a_plain_calendly_cancellation_removes_the_event(stack, stack_resources, tenant_id, platform_sim, clinician):
    source = hook(stack, platform_sim, tenant_id, "calendly")
    source.send(load("calendly", "invitee-created"))
    drain(stack, stack_resources)
    assert source.send(load("calendly", "invitee-canceled")).json["results"] == {"published": 1}
    drain(stack, stack_resources)
    assert calendar(clinician) == []


def test_a_calcom_reschedule_moves_one_event_and_its_cancel_removes_it(stack, stack_resources, tenant_id,
                                                                       platform_sim, clinician):
    source, before = _booked(stack, stack_resources, platform_sim, tenant_id, clinician, "calcom", "booking-created")
    source.send(load("calcom", "booking-rescheduled"))
    drain(stack, stack_resources)
    after = _one_event(clinician)
    assert after.uid == before.uid
    assert (after.start, after.end) == expected_times(load("calcom", "booking-rescheduled"))
    source.send(load("calcom", "booking-cancelled"))
    drain(stack, stack_resources)
    assert calendar(clinician) == []


def test_identical_acuity_notifications_of_different_states_are_both_applied(stack, stack_resources, tenant_id,
                                                                            platform_sim, clinician):
    """Acuity's bodies for two reschedules are byte for byte the same: only the fetched state differs."""
    source = hook(stack, platform_sim, tenant_id, "acuity")
    assert source.send(load("acuity", "scheduled")).status == 200
    assert source.send(load("acuity", "rescheduled")).status == 200
    drain(stack, stack_resources)
    assert times_on(clinician) == [expected_times(load("acuity", "rescheduled"))]
    replay = source.send(load("acuity", "rescheduled"))  # nothing new at Acuity: a replay
    assert (replay.status, replay.json) == (401, {"error": "replay"})
    assert source.send(load("acuity", "canceled")).status == 200
    drain(stack, stack_resources)
    assert calendar(clinician) == []


def test_square_versions_order_out_of_order_deliveries(stack, stack_resources, tenant_id, platform_sim, clinician):
    source = hook(stack, platform_sim, tenant_id, "square")
    for name in ("booking-created", "booking-updated-cancelled", "booking-updated-rescheduled"):
        assert source.send(load("square", name)).status == 200
    drain(stack, stack_resources, batch_size=1)
    assert calendar(clinician) == []  # version 3 (cancelled) wins over the late version 2


# -- retries ----------------------------------------------------------------------------------------------


def test_a_platform_outage_during_fetch_back_is_retried_on_calsyncs_schedule(stack, stack_resources, tenant_id,
                                                                             platform_sim, clinician):
    source = hook(stack, platform_sim, tenant_id, "acuity")
    platform_sim.inject(status=429, retry_after=120, path_contains="/acuity/")
    with emitted_metrics() as metrics:
        reply = source.send(load("acuity", "scheduled"))
    assert (reply.status, reply.json["results"]) == (200, {"deferred": 1})
    assert metrics[("PlatformFetchDeferred", None)] == 1
    queued = platform_intake.get(tenant_id, "acuity", Kind.FETCH, "700001")
    assert queued is not None and queued.attempts == 1
    now = dt.datetime.now(dt.UTC)
    assert queued.due_at is not None and queued.due_at >= now + dt.timedelta(seconds=115)  # Retry-After wins
    follow_ups(now + dt.timedelta(seconds=60))  # not due yet
    assert platform_intake.get(tenant_id, "acuity", Kind.FETCH, "700001") is not None
    follow_ups(now + dt.timedelta(minutes=3))
    assert platform_intake.get(tenant_id, "acuity", Kind.FETCH, "700001") is None
    drain(stack, stack_resources)
    assert times_on(clinician) == [expected_times(load("acuity", "scheduled"))]


def test_a_fetch_back_that_keeps_failing_is_given_up_after_the_last_retry(stack, stack_resources, tenant_id,
                                                                          platform_sim):
    source = hook(stack, platform_sim, tenant_id, "jane")
    platform_sim.inject(status=503, path_contains="/jane/", times=10)
    assert source.send(load("jane", "appointment-booked")).json["results"] == {"deferred": 1}
    moment = dt.datetime.now(dt.UTC)
    attempts = []
    with emitted_metrics() as metrics:
        for _ in range(6):
            moment += dt.timedelta(hours=2)
            follow_ups(moment)
            queued = platform_intake.get(tenant_id, "jane", Kind.FETCH, "1f0c7a52-5b1e-4c63-8f39-00000000a001")
            attempts.append(queued.attempts if queued else None)
    assert attempts == [2, 3, 4, 5, None, None]
    assert metrics[("PlatformFetchDead", None)] == 1
    assert drain(stack, stack_resources).received == 0


def test_calsyncs_own_outage_answers_503_and_the_redelivery_is_accepted(stack, stack_resources, tenant_id,
                                                                        platform_sim, clinician, monkeypatch):
    from calsync.aws import bus

    class RefusingEventBridge:
        """EventBridge as it answers when it cannot take an entry: a 200 that counts the entry as failed."""

        def put_events(self, **_: Any) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]}

    source = hook(stack, platform_sim, tenant_id, "calcom")
    sample = load("calcom", "booking-created")
    event = source.request(sample)
    monkeypatch.setattr(bus, "_client", RefusingEventBridge)
    reply = post(event)
    assert (reply.status, reply.headers.get("Retry-After")) == (503, "60")
    monkeypatch.undo()
    assert post(event).status == 200  # the same delivery again: not a replay, its claim was released
    drain(stack, stack_resources)
    assert times_on(clinician) == [expected_times(sample)]


# -- robustness and privacy -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(platform=st.sampled_from(SIGNED), body=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                 max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_any_authentic_body_gets_an_answer_never_a_crash(stack, stack_resources, platform_sim, platform, body):
    source = Hook(stack, platform_sim, "t-fuzz", platform)
    reply = post(source.request(load(platform, FIRST[platform]), body=body))
    assert reply.status in (200, 400, 401, 422), reply.body


def test_no_patient_detail_reaches_a_log_line(stack, stack_resources, tenant_id, platform_sim, clinician):
    with captured_logs() as logs:
        for platform in sorted(FIRST):
            hook(stack, platform_sim, tenant_id, platform).send(load(platform, FIRST[platform]))
        drain(stack, stack_resources)
    text = logs.getvalue()
    assert "platform webhook accepted" in text
    for detail in ("Avery", "Quinn", "Blake", "Moreno", "Drew Park", "Emerson", "Hale", "Finley", "Gray", "Ashby",
                   "Harper", "Voss", "Indigo", "Reyes", "Jules", "Marsh", "Casey", "Lindgren", "example.com",
                   "Nutrition review", "Physiotherapy"):
        assert detail not in text, detail


def test_a_webhook_over_real_http_reaches_the_calendar(deployment, stack, stack_resources, tenant_id, platform_sim,
                                                      clinician):
    """The same path a platform (or anyone) takes against ``make serve``: an HTTP POST to the local HTTP API."""
    import httpx

    from tests.support.platform_signing import headers_for

    source = hook(stack, platform_sim, tenant_id, "calendly")
    sample = load("calendly", "invitee-created")
    headers = {"Content-Type": sample.content_type,
               **headers_for("calendly", "whsec-e2e-5b7d9f1e3a", sample.raw, url="", at=dt.datetime.now(dt.UTC))}
    with httpx.Client(base_url=deployment.api.base_url) as client:
        forged = client.post(source.path, content=sample.raw,
                             headers={**headers, "Calendly-Webhook-Signature": "t=1,v1=0"})
        accepted = client.post(source.path, content=sample.raw, headers=headers)
        replayed = client.post(source.path, content=sample.raw, headers=headers)
        unknown = client.post("/webhooks/elsewhere/x/y/z/w", content=b"{}")
    statuses = (forged.status_code, accepted.status_code, replayed.status_code, unknown.status_code)
    assert statuses == (401, 200, 401, 404)
    drain(stack, stack_resources)
    assert times_on(clinician) == [expected_times(sample)]


def test_a_large_batch_fetches_some_now_and_queues_the_rest(stack, stack_resources, tenant_id, platform_sim,
                                                            clinician):
    """HubSpot batches up to 100 events; a webhook fetches ten and leaves the rest to the sweeper, so it
    always answers in time."""
    source = hook(stack, platform_sim, tenant_id, "hubspot")
    sample = load("hubspot", "meeting-created")
    meeting = only(sample.api)
    events = []
    for index in range(12):
        object_id = 51300000 + index
        start = iso(meeting["properties"]["hs_meeting_start_time"]) + dt.timedelta(hours=index)
        platform_sim.put("hubspot", f"/crm/v3/objects/meetings/{object_id}", {
            **meeting, "id": str(object_id), "properties": {
                **meeting["properties"], "hs_meeting_start_time": start.isoformat(),
                "hs_meeting_end_time": (start + dt.timedelta(minutes=30)).isoformat()}})
        events.append({**sample.body[0], "eventId": 92000000 + index, "objectId": object_id})
    reply = post(source.request(sample.with_body(events)))
    assert reply.json["results"] == {"published": 10, "deferred": 2}
    follow_ups(dt.datetime.now(dt.UTC))
    assert list(platform_intake.list_kind(tenant_id, "hubspot", Kind.FETCH)) == []
    drain(stack, stack_resources)
    assert len(calendar(clinician)) == 12


def test_an_unreadable_answer_from_the_platforms_api_is_counted_not_blamed_on_the_webhook(
        stack, stack_resources, tenant_id, platform_sim):
    source = hook(stack, platform_sim, tenant_id, "acuity")
    sample = load("acuity", "scheduled")
    broken = {path: {"id": 700001, "datetime": "not a time"} for path in sample.api}
    with emitted_metrics() as metrics:
        reply = source.send(Sample(sample.platform, sample.name, sample.description, sample.content_type,
                                   sample.body, broken))
    assert (reply.status, reply.json["results"]) == (200, {"failed": 1})
    assert metrics[("PlatformFetchDead", None)] == 1
    assert drain(stack, stack_resources).received == 0


def test_a_platform_secret_is_created_named_and_tagged_for_its_tenant_and_new_credentials_replace_it(
        stack, stack_resources, tenant_id, platform_sim, clinician):
    from calsync.domain import secret_names
    from calsync.services.platforms import sources

    source = hook(stack, platform_sim, tenant_id, "calcom")
    name = sources.secret_name(tenant_id, "calcom")
    described = stack.client("secretsmanager").describe_secret(SecretId=name)
    assert name == f"calsync/{secret_names.segment(tenant_id)}/platforms/calcom"
    assert {(t["Key"], t["Value"]) for t in described["Tags"]} == {("calsync-tenant", secret_names.segment(tenant_id))}

    source.set_secret(signing_secret="rotated-signing-secret")  # new credentials: the same secret, a new value
    assert sources.credentials(tenant_id, "calcom")["signing_secret"] == "rotated-signing-secret"
    sample = load("calcom", "booking-created")
    source.serve(sample)
    assert post(source.request(sample)).status == 401  # signed with the old secret
    assert post(source.request(sample, secret="rotated-signing-secret")).status == 200
    drain(stack, stack_resources)
    assert len(calendar(clinician)) == 1
