"""Two-way sync with Google Calendar (the simulator), end to end through the local deployment: the webhook
route, the pull queue and worker, the sweeper, the bus.

Push channels are started on activation and verified notifications become pulls; a clinician's own events
become busy time (by the rules of ``calsync.domain.busy``), published as ``External Busy Time Changed`` and
checked against an EHR appointment (``Conflict Detected`` once, ``Conflict Resolved`` when it clears); a
calsync event the clinician moves or deletes comes back (``External Edit Reverted``); lifecycle steps stop
and restart channels.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import httpx
import pytest

from calsync.domain.event import EventKey
from calsync.domain.model import AllDayPolicy, BusySharing, Direction
from calsync.services import lifecycle
from calsync.services.twoway import pull, readers
from calsync.store import busy, integrations, pulls, watches
from devstack.deployment import Deployment
from devstack.oauth_clinicians import CLIENT_ID, CLIENT_SECRET
from devstack.sims.google import GoogleCalendarSimulator
from tests.support.reliability import Clock, Ehr
from tests.support.twoway import (
    PULL_WORKER,
    Outbound,
    blocks,
    conforms,
    send_changes,
    settle,
    spans,
    start,
    two_way_google,
)

ZONE = ZoneInfo("America/New_York")


def day(offset: int = 1) -> dt.date:
    return (dt.datetime.now(ZONE) + dt.timedelta(days=offset)).date()


def at(hour: int, minute: int = 0, offset: int = 1) -> dt.datetime:
    return dt.datetime.combine(day(offset), dt.time(hour, minute), ZONE)


@pytest.fixture
def watched(deployment: Deployment, google_sim: GoogleCalendarSimulator, tenant_id: str):
    """A two-way clinician whose calendar is watched (channel started, first full pull done)."""
    clinician = two_way_google(deployment.stack, google_sim, tenant_id)
    start(clinician.integration.integration_id)
    settle(deployment, google_sim)
    return clinician


def test_a_personal_appointment_becomes_busy_time_published_with_the_schema(deployment, google_sim, tenant_id,
                                                                            watched):
    out = Outbound.listen(deployment.stack, tenant_id)
    (channel,) = google_sim.watch_channels(watched.user)
    assert channel.address == f"{deployment.api.base_url}/webhooks/google"
    assert google_sim.push.deliveries[0].status == 200  # the sync message, acknowledged
    google_sim.create_event(watched.user, at(12), at(13), "Dentist", attendees=[{"email": "friend@example.com"}])
    settle(deployment, google_sim)
    (block,) = blocks(watched.integration.integration_id)
    assert (block.start, block.end, block.status.value, block.title, block.attendees) == (
        at(12), at(13), "busy", None, ())
    (published,) = out.of("External Busy Time Changed")
    conforms("External Busy Time Changed", published)
    (change,) = published["blocks"]
    assert change["block_id"] == block.block_id and change["deleted"] is False
    assert "Dentist" not in str(published) and "friend@" not in str(published)  # nothing leaves unless shared


def test_free_declined_and_all_day_events_follow_the_rules(deployment, google_sim, watched):
    user = watched.user
    google_sim.create_event(user, at(9), at(10), "Blocked out")
    google_sim.create_event(user, at(10), at(11), "Lunch (free)", transparency="transparent")
    google_sim.create_event(user, at(11), at(12), "Declined meeting",
                            attendees=[{"email": user, "self": True, "responseStatus": "declined"}])
    google_sim.create_event(user, at(13), at(14), "Maybe", attendees=[{"email": user, "responseStatus": "tentative",
                                                                       "self": True}])
    google_sim.create_event(user, day(2), day(3), "Birthday", transparency="transparent")
    google_sim.create_event(user, day(4), day(6), "Conference")
    settle(deployment, google_sim)
    shown = {(b.start, b.end, b.status.value, b.start_date, b.end_date)
             for b in blocks(watched.integration.integration_id)}
    first, second = (dt.datetime.combine(day(n), dt.time(0), dt.UTC) for n in (4, 5))  # the calendar is in UTC
    assert shown == {(at(9), at(10), "busy", None, None), (at(13), at(14), "tentative", None, None),
                     (first, second, "busy", day(4), day(5)),  # a two-day event: a block per day
                     (second, second + dt.timedelta(days=1), "busy", day(5), day(6))}


def test_titles_and_attendees_leave_only_when_the_clinician_shares_them(deployment, google_sim, tenant_id):
    clinician = two_way_google(deployment.stack, google_sim, tenant_id,
                               busy_sharing=BusySharing(titles=True, attendees=True), all_day_busy=AllDayPolicy.NEVER)
    start(clinician.integration.integration_id)
    settle(deployment, google_sim)
    google_sim.create_event(clinician.user, at(12), at(13), "Dentist", attendees=[{"email": "dr.tooth@example.com"}])
    google_sim.create_event(clinician.user, day(3), day(4), "Conference")  # blocks its day, but the policy says never
    settle(deployment, google_sim)
    (block,) = blocks(clinician.integration.integration_id)
    assert (block.title, block.attendees) == ("Dentist", ("dr.tooth@example.com",))


def test_a_busy_block_over_an_appointment_is_a_conflict_once_and_resolved_once(deployment, google_sim, tenant_id,
                                                                               watched):
    out = Outbound.listen(deployment.stack, tenant_id)
    ehr = Ehr(tenant_id, Clock())
    booked = ehr.change("apt-1", 9, day_offset=1)  # 09:00-09:45 New York, tomorrow
    send_changes(deployment, booked)
    settle(deployment, google_sim)  # calsync's own event comes back as a notification: not busy time
    assert blocks(watched.integration.integration_id) == []
    personal = google_sim.create_event(watched.user, at(9, 30), at(10, 30), "School run")
    settle(deployment, google_sim)
    (detected,) = out.of("Conflict Detected")
    conforms("Conflict Detected", detected)
    assert (detected["appointment_id"], detected["practitioner_id"]) == ("apt-1", "dr-okafor")
    # the same overlap seen again (a redelivered change, another pull) is not announced again
    send_changes(deployment, booked)
    pull.pull(watched.integration.integration_id)
    google_sim.update_event(watched.user, personal["id"], summary="School run!")
    settle(deployment, google_sim)
    assert out.of("Conflict Detected") == []
    # the EHR moves the appointment away: resolved, once
    send_changes(deployment, ehr.change("apt-1", 14, day_offset=1))
    (resolved,) = out.of("Conflict Resolved")
    conforms("Conflict Resolved", resolved)
    assert (resolved["conflict_id"], resolved["resolution"]) == (detected["conflict_id"], "appointment_moved")
    # a new booking over the busy time, then the clinician drops the personal event
    send_changes(deployment, ehr.change("apt-2", 10, day_offset=1))
    (second,) = out.of("Conflict Detected")
    google_sim.delete_event(watched.user, personal["id"])
    settle(deployment, google_sim)
    (cleared,) = out.of("Conflict Resolved")
    assert (cleared["conflict_id"], cleared["resolution"]) == (second["conflict_id"], "busy_time_removed")


def test_a_calsync_event_moved_or_deleted_by_the_clinician_comes_back(deployment, google_sim, tenant_id, watched):
    out = Outbound.listen(deployment.stack, tenant_id)
    ehr = Ehr(tenant_id, Clock())
    send_changes(deployment, ehr.change("apt-7", 11, day_offset=1))
    settle(deployment, google_sim)
    event_id = EventKey(watched.integration.integration_id, tenant_id, "apt-7").digest
    google_sim.move_event(watched.user, event_id, at(15))  # dragged to the afternoon
    settle(deployment, google_sim)
    (event,) = google_sim.events(watched.user)
    assert dt.datetime.fromisoformat(event["start"]["dateTime"]) == at(11)
    (reverted,) = out.of("External Edit Reverted")
    conforms("External Edit Reverted", reverted)
    assert (reverted["appointment_id"], reverted["edit"]) == ("apt-7", "moved")
    google_sim.delete_event(watched.user, event_id)
    settle(deployment, google_sim)
    (event,) = google_sim.events(watched.user)
    assert event["status"] == "confirmed" and dt.datetime.fromisoformat(event["start"]["dateTime"]) == at(11)
    assert [e["edit"] for e in out.of("External Edit Reverted")] == ["deleted"]
    # no loop: the restored event's own notification changes nothing more
    writes = [r for r in google_sim.api_requests() if r.request.method in ("PUT", "POST", "PATCH")]
    settle(deployment, google_sim)
    assert [r for r in google_sim.api_requests() if r.request.method in ("PUT", "POST", "PATCH")] == writes
    assert blocks(watched.integration.integration_id) == []


def test_a_burst_of_notifications_costs_one_pull(deployment, google_sim, watched):
    google_sim.push.hold()
    for hour in range(8, 14):
        google_sim.create_event(watched.user, at(hour), at(hour, 30), "Busy")
    google_sim.push.release()
    google_sim.push.wait_idle()
    result = deployment.drain(PULL_WORKER)
    assert (result.received, result.succeeded) == (1, 1)
    assert len(blocks(watched.integration.integration_id)) == 6


def post(deployment: Deployment, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{deployment.api.base_url}/webhooks/google", headers=headers, timeout=10)


def test_forged_unknown_expired_and_replayed_notifications_change_nothing(deployment, google_sim, watched):
    (channel,) = google_sim.watch_channels(watched.user)
    genuine = {"X-Goog-Channel-ID": channel.id, "X-Goog-Resource-ID": channel.resource_id,
               "X-Goog-Resource-State": "exists", "X-Goog-Channel-Token": channel.token or "",
               "X-Goog-Message-Number": "1000"}
    calls = len(google_sim.api_requests())
    answers = {
        "forged token": post(deployment, {**genuine, "X-Goog-Channel-Token": "guessed"}).status_code,
        "no token": post(deployment, {k: v for k, v in genuine.items() if k != "X-Goog-Channel-Token"}).status_code,
        "forged resource": post(deployment, {**genuine, "X-Goog-Resource-ID": "other"}).status_code,
        "unknown channel": post(deployment, {**genuine, "X-Goog-Channel-ID": "cs-nobody"}).status_code,
        "not a notification": post(deployment, {}).status_code,
    }
    assert answers == {"forged token": 401, "no token": 401, "forged resource": 401, "unknown channel": 404,
                       "not a notification": 400}
    assert deployment.drain(PULL_WORKER).received == 0
    assert post(deployment, genuine).status_code == 202  # genuine: a pull
    assert deployment.drain(PULL_WORKER).received == 1
    assert post(deployment, genuine).status_code == 200  # replayed: acknowledged, nothing more
    assert post(deployment, {**genuine, "X-Goog-Message-Number": "999"}).status_code == 200
    assert deployment.drain(PULL_WORKER).received == 0
    lifecycle.pause(watched.integration.integration_id)  # the channel is stopped
    settle(deployment, google_sim)  # and the pull it asks for withdraws the busy time
    assert post(deployment, {**genuine, "X-Goog-Message-Number": "1001"}).status_code == 404
    assert deployment.drain(PULL_WORKER).received == 0
    assert len([r for r in google_sim.api_requests() if "/events" in r.request.path]) == calls + 1


def test_channels_stop_on_pause_disconnect_and_direction_change_and_restart_on_resume(deployment, google_sim,
                                                                                        tenant_id, watched):
    out = Outbound.listen(deployment.stack, tenant_id)
    integration_id = watched.integration.integration_id
    google_sim.create_event(watched.user, at(9), at(10), "Busy")
    settle(deployment, google_sim)
    out.take()
    lifecycle.pause(integration_id)  # channels stopped at once; the busy time goes with the pull it asks for
    assert google_sim.watch_channels(watched.user) == [] and watches.of_integration(integration_id) == []
    assert len(blocks(integration_id)) == 1
    settle(deployment, google_sim)
    assert blocks(integration_id) == []
    (withdrawn,) = out.of("External Busy Time Changed")
    assert [b["deleted"] for b in withdrawn["blocks"]] == [True]
    lifecycle.resume(integration_id, backfill=False)
    settle(deployment, google_sim)
    assert len(google_sim.watch_channels(watched.user)) == 1 and len(blocks(integration_id)) == 1
    stored = integrations.get(integration_id)
    assert stored is not None
    lifecycle.update(stored.model_copy(update={"direction": Direction.PUSH}))
    assert google_sim.watch_channels(watched.user) == []
    settle(deployment, google_sim)
    assert blocks(integration_id) == []
    lifecycle.update(stored.model_copy(update={"direction": Direction.TWO_WAY}))
    settle(deployment, google_sim)
    assert len(google_sim.watch_channels(watched.user)) == 1
    lifecycle.disconnect(integration_id)
    assert google_sim.watch_channels(watched.user) == []
    settle(deployment, google_sim)
    assert pulls.state(integration_id) is None and blocks(integration_id) == []


def test_channels_are_renewed_before_they_expire_by_the_pulls_the_sweeper_makes_due(deployment, google_sim,
                                                                                     watched):
    from calsync.services import sweeper

    integration_id = watched.integration.integration_id
    (old,) = watches.of_integration(integration_id)
    state = pulls.state(integration_id)
    assert state is not None and state.next_pull_at is not None
    assert state.next_pull_at <= dt.datetime.now(dt.UTC) + pull.SAFETY_NET  # the safety net
    later = old.ends_at - dt.timedelta(hours=20)  # within a day of the channel's end
    assert integration_id in pulls.due(later, limit=1000)
    assert sweeper.run(later).pulls_queued >= 1
    pull.pull(integration_id, later)  # the queued job, run at that moment
    settle(deployment, google_sim)
    (new,) = watches.of_integration(integration_id)
    assert new.watch_id != old.watch_id and new.ends_at > old.ends_at
    assert [c.id for c in google_sim.watch_channels(watched.user)] == [new.watch_id]  # the old one stopped


def test_the_safety_net_pulls_a_calendar_whose_notifications_were_all_lost(deployment, google_sim, watched):
    from calsync.services import sweeper

    google_sim.push.drop(times=5)
    google_sim.create_event(watched.user, at(16), at(17), "Physio")
    google_sim.push.wait_idle()
    assert deployment.drain(PULL_WORKER).received == 0 and blocks(watched.integration.integration_id) == []
    assert sweeper.run(dt.datetime.now(dt.UTC) + pull.SAFETY_NET).pulls_queued >= 1
    settle(deployment, google_sim)
    assert spans(watched.integration.integration_id) == [(at(16), at(17))]


def test_a_recurring_series_with_a_moved_and_a_cancelled_instance_is_expanded(deployment, google_sim, watched):
    series = google_sim.create_event(watched.user, at(8), at(9), "Physio", time_zone="America/New_York",
                                     recurrence=["RRULE:FREQ=DAILY;COUNT=5"])
    google_sim.move_instance(watched.user, series["id"], at(8, offset=2), at(17, offset=2))
    google_sim.cancel_instance(watched.user, series["id"], at(8, offset=3))
    settle(deployment, google_sim)
    assert spans(watched.integration.integration_id) == [
        (at(8, offset=1), at(9, offset=1)), (at(17, offset=2), at(18, offset=2)),
        (at(8, offset=4), at(9, offset=4)), (at(8, offset=5), at(9, offset=5))]
    assert Counter(b.block_id for b in blocks(watched.integration.integration_id)).most_common(1)[0][1] == 1


def test_several_calendars_are_watched_each_with_its_channel(deployment, google_sim, tenant_id):
    user = f"dr-okafor@{tenant_id}.gmail.example"
    google_sim.add_user(user)
    google_sim.add_calendar(user, f"family-{tenant_id}", summary="Family")
    clinician = two_way_google(deployment.stack, google_sim, tenant_id, watch_calendars=(f"family-{tenant_id}",))
    start(clinician.integration.integration_id)
    settle(deployment, google_sim)
    assert {c.calendar_id for c in google_sim.watch_channels()} >= {user, f"family-{tenant_id}"}
    google_sim.create_event(user, at(9), at(10), "Gym")
    google_sim.create_event(f"family-{tenant_id}", at(15), at(16), "School play")
    settle(deployment, google_sim)
    assert spans(clinician.integration.integration_id) == [(at(9), at(10)), (at(15), at(16))]
    stored = busy.of_integration(clinician.integration.integration_id)
    assert len({s.slot.split("#")[0] for s in stored}) == 2  # kept under each calendar
    # the clinician stops sharing the family calendar: its channel stops and its busy time goes
    current = integrations.get(clinician.integration.integration_id)
    assert current is not None
    lifecycle.update(current.model_copy(update={"watch_calendars": ()}))
    settle(deployment, google_sim)
    assert spans(clinician.integration.integration_id) == [(at(9), at(10))]
    assert [c.calendar_id for c in google_sim.watch_channels()
            if c.calendar_id in (user, f"family-{tenant_id}")] == [user]


def test_a_pull_only_integration_reads_busy_time_writes_nothing_and_sees_conflicts(deployment, google_sim,
                                                                                   tenant_id):
    out = Outbound.listen(deployment.stack, tenant_id)
    clinician = two_way_google(deployment.stack, google_sim, tenant_id, direction=Direction.PULL)
    start(clinician.integration.integration_id)
    settle(deployment, google_sim)
    stored = integrations.get(clinician.integration.integration_id)
    assert stored is not None and stored.status.value == "active"  # its calendar can be read: it works
    google_sim.create_event(clinician.user, at(9), at(10), "Dentist")
    settle(deployment, google_sim)
    send_changes(deployment, Ehr(tenant_id, Clock()).change("apt-1", 9, day_offset=1))
    assert [e["status"] for e in google_sim.events(clinician.user)] == ["confirmed"]  # only the dentist
    assert [d["appointment_id"] for d in out.of("Conflict Detected")] == ["apt-1"]


def test_a_revoked_grant_is_an_announced_error_and_a_reconnect_reads_again(deployment, google_sim, tenant_id,
                                                                          watched):
    out = Outbound.listen(deployment.stack, tenant_id)
    integration_id = watched.integration.integration_id
    google_sim.create_event(watched.user, at(9), at(10), "Busy")
    settle(deployment, google_sim)
    google_sim.revoke(watched.user)
    readers.forget()  # a warm reader would still hold the revoked access token until it expires
    report = pull.pull(integration_id)
    assert report.error == "reauth_required"
    stored = integrations.get(integration_id)
    assert stored is not None and (stored.status.value, stored.status_reason) == ("error", "reauth_required")
    assert [e["detail"]["status"] for e in out.take() if e["detail-type"] == "Integration Status Changed"] == [
        "error"]
    assert len(blocks(integration_id)) == 1  # kept: the EHR was told the calendar cannot be read now
    state = pulls.state(integration_id)
    assert state is not None and state.next_pull_at is not None  # still tried, at the safety net's pace
    lifecycle.reconnect(integration_id, {"refresh_token": google_sim.connect(watched.user, CLIENT_ID),
                                         "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    google_sim.create_event(watched.user, at(14), at(15), "Busy")
    settle(deployment, google_sim)
    assert spans(integration_id) == [(at(9), at(10)), (at(14), at(15))]
    assert integrations.get(integration_id).status.value == "active"  # type: ignore[union-attr]
