"""One regression test per failure mode on the inbound side of two-way sync (``docs/architecture.md``,
"Failure modes we test": 5, 6, 7, 8, 11 and 12), against the local deployment and the provider simulators.

    fm05  an empty or suspicious pull never cascades into deleting busy time (held, alarmed, confirmed)
    fm06  calsync's own events never come back as busy time: two-way sync cannot loop
    fm07  lost notifications and channels that lapse: the safety net and renewals still read every change
    fm08  a lost sync state (Google 410, Graph syncStateNotFound, CalDAV invalid token): bounded full read
    fm11  all-day events on their own days, by the integration's policy
    fm12  moved and cancelled occurrences of a series are read as the calendar shows them
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from calsync.cli import twoway as twoway_cli
from calsync.domain import guard
from calsync.domain.event import EventKey
from calsync.domain.model import AllDayPolicy, Provider
from calsync.services import sweeper
from calsync.services.twoway import operator, pull, readers
from calsync.store import pulls
from devstack.deployment import Deployment
from tests.support.reliability import Clock, Ehr
from tests.support.twoway import (
    EmptyAnswers,
    Outbound,
    blocks,
    send_changes,
    settle,
    spans,
    start,
    two_way_caldav,
    two_way_google,
    two_way_microsoft,
)

ZONE = ZoneInfo("America/New_York")


def day(offset: int) -> dt.date:
    return (dt.datetime.now(ZONE) + dt.timedelta(days=offset)).date()


def at(hour: int, offset: int = 1, zone: ZoneInfo = ZONE) -> dt.datetime:
    return dt.datetime.combine(day(offset), dt.time(hour), zone)


def watched_google(deployment: Deployment, google_sim, tenant_id: str, **settings):
    clinician = two_way_google(deployment.stack, google_sim, tenant_id, **settings)
    start(clinician.integration.integration_id)
    settle(deployment, google_sim)
    return clinician


def test_fm05_an_empty_answer_after_an_outage_deletes_no_busy_time(deployment, google_sim, tenant_id):
    out = Outbound.listen(deployment.stack, tenant_id)
    clinician = watched_google(deployment, google_sim, tenant_id)
    integration_id = clinician.integration.integration_id
    for hour in range(8, 14):
        google_sim.create_event(clinician.user, at(hour), at(hour, 1) + dt.timedelta(minutes=30), "Busy")
    settle(deployment, google_sim)
    known = blocks(integration_id)
    out.take()
    readers.override(Provider.GOOGLE, lambda integration: EmptyAnswers(readers.build(integration)))
    try:
        now = dt.datetime.now(dt.UTC)
        report = pull.pull(integration_id, now)
        assert report.removals_held == 6
        assert pull.pull(integration_id, now + dt.timedelta(minutes=2)).removals_held == 6  # too soon to confirm
    finally:
        readers.override(Provider.GOOGLE, None)
    assert blocks(integration_id) == known and out.of("External Busy Time Changed") == []
    (held,) = operator.status(integration_id)["calendars"]
    assert held["held_removals"] == 6
    pull.pull(integration_id)  # the provider answers properly again: the hold is lifted, nothing was lost
    assert blocks(integration_id) == known
    assert operator.status(integration_id)["calendars"][0]["held_removals"] == 0


def test_fm05_a_real_mass_removal_is_applied_once_a_later_pull_or_an_operator_confirms_it(deployment, google_sim,
                                                                                         tenant_id, capsys):
    out = Outbound.listen(deployment.stack, tenant_id)
    clinician = watched_google(deployment, google_sim, tenant_id)
    integration_id = clinician.integration.integration_id
    made = [google_sim.create_event(clinician.user, at(h), at(h + 1), "Busy") for h in range(8, 12)]
    settle(deployment, google_sim)
    out.take()
    google_sim.push.drop(times=len(made))
    for event in made:
        google_sim.delete_event(clinician.user, event["id"])
    now = dt.datetime.now(dt.UTC)
    assert pull.pull(integration_id, now).removals_held == 4
    assert len(blocks(integration_id)) == 4
    assert pull.pull(integration_id, now + guard.CONFIRM_AFTER + dt.timedelta(seconds=1)).removals_held == 0
    assert blocks(integration_id) == []
    (removed,) = out.of("External Busy Time Changed")
    assert [b["deleted"] for b in removed["blocks"]] == [True] * 4
    # the same again, confirmed by an operator instead
    again = [google_sim.create_event(clinician.user, at(h, 2), at(h + 1, 2), "Busy") for h in range(8, 12)]
    settle(deployment, google_sim)
    google_sim.push.drop(times=len(again))
    for event in again:
        google_sim.delete_event(clinician.user, event["id"])
    assert pull.pull(integration_id).removals_held == 4
    assert twoway_cli.main(["confirm", "--integration-id", integration_id]) == 0
    assert "1 calendar(s) with held removals" in capsys.readouterr().out
    settle(deployment, google_sim)
    assert blocks(integration_id) == []


@pytest.mark.parametrize("provider", ["google", "microsoft", "caldav"])
def test_fm06_calsyncs_own_events_never_come_back_as_busy_time(deployment, google_sim, microsoft_sim, tenant_id,
                                                              provider):
    if provider == "google":
        integration = two_way_google(deployment.stack, google_sim, tenant_id, "dr-a").integration
    elif provider == "microsoft":
        integration = two_way_microsoft(deployment.stack, microsoft_sim, tenant_id, "dr-a").integration
    else:
        integration = two_way_caldav(deployment.stack, tenant_id, "dr-a").integration
    out = Outbound.listen(deployment.stack, tenant_id)
    start(integration.integration_id)
    settle(deployment, google_sim, microsoft_sim)
    ehr = Ehr(tenant_id, Clock())
    send_changes(deployment, *(ehr.change(f"apt-{n}", 8 + n, practitioner="dr-a", day_offset=1) for n in range(3)))
    sweeper.run(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6))  # CalDAV is polled
    settle(deployment, google_sim, microsoft_sim)
    pull.pull(integration.integration_id)
    assert blocks(integration.integration_id) == []
    events = out.take()
    assert [e for e in events if e["detail-type"] in ("External Busy Time Changed", "Conflict Detected",
                                                     "External Edit Reverted")] == []


def test_fm06_a_second_integration_writing_the_same_calendar_is_not_busy_time_either(deployment, google_sim,
                                                                                      tenant_id):
    clinician = watched_google(deployment, google_sim, tenant_id)
    other = EventKey("another-integration", tenant_id, "apt-9")
    google_sim.create_event(clinician.user, at(10), at(11), "[Clinic] #A-9", event_id=other.digest,
                            extendedProperties={"private": {"X-CALSYNC-KEY": other.marker}})
    settle(deployment, google_sim)
    assert blocks(clinician.integration.integration_id) == []


def test_fm07_notifications_lost_and_channels_lapsing_never_leave_busy_time_stale(deployment, google_sim,
                                                                                   microsoft_sim, tenant_id):
    google = watched_google(deployment, google_sim, tenant_id)
    graph = two_way_microsoft(deployment.stack, microsoft_sim, tenant_id)
    start(graph.integration.integration_id)
    settle(deployment, microsoft_sim)
    google_sim.push.drop(times=10)
    microsoft_sim.push.drop(times=10)
    google_sim.create_event(google.user, at(9), at(10), "Lost")
    microsoft_sim.create_event(graph.user, at(11), at(12), "Lost", calendar=graph.integration.calendar_id)
    (channel,) = google_sim.watch_channels(google.user)
    google_sim.expire_channel(channel.id)  # Google ended it early
    settle(deployment, google_sim, microsoft_sim)
    assert blocks(google.integration.integration_id) == [] == blocks(graph.integration.integration_id)
    later = dt.datetime.now(dt.UTC) + pull.SAFETY_NET
    assert {google.integration.integration_id, graph.integration.integration_id} <= set(pulls.due(later, 1000))
    sweeper.run(later)
    settle(deployment, google_sim, microsoft_sim)
    assert spans(google.integration.integration_id) == [(at(9), at(10))]
    assert spans(graph.integration.integration_id) == [(at(11), at(12))]


def test_fm08_a_lost_sync_state_is_a_bounded_full_read_on_every_provider(deployment, google_sim, microsoft_sim,
                                                                          tenant_id):
    google = watched_google(deployment, google_sim, tenant_id)
    graph = two_way_microsoft(deployment.stack, microsoft_sim, tenant_id)
    start(graph.integration.integration_id)
    settle(deployment, microsoft_sim)
    google_sim.create_event(google.user, at(9), at(10), "Kept")
    microsoft_sim.create_event(graph.user, at(9), at(10), "Kept", calendar=graph.integration.calendar_id)
    settle(deployment, google_sim, microsoft_sim)
    first = {i: blocks(i) for i in (google.integration.integration_id, graph.integration.integration_id)}
    assert google_sim.expire_sync_tokens() > 0 and microsoft_sim.expire_delta_tokens() > 0
    google_sim.create_event(google.user, at(14), at(15), "New")
    microsoft_sim.create_event(graph.user, at(14), at(15), "New", calendar=graph.integration.calendar_id)
    settle(deployment, google_sim, microsoft_sim)
    for integration_id, before in first.items():
        after = blocks(integration_id)
        assert [b.block_id for b in after][:1] == [b.block_id for b in before]  # re-read, not duplicated
        assert [(b.start, b.end) for b in after] == [(at(9), at(10)), (at(14), at(15))]


@pytest.mark.parametrize(("policy", "marked", "expected"), [
    (AllDayPolicy.AS_MARKED, "opaque", True), (AllDayPolicy.AS_MARKED, "transparent", False),
    (AllDayPolicy.ALWAYS, "transparent", True), (AllDayPolicy.NEVER, "opaque", False)])
def test_fm11_an_all_day_event_blocks_exactly_its_days_by_the_policy(deployment, google_sim, tenant_id, policy,
                                                                     marked, expected):
    clinician = watched_google(deployment, google_sim, tenant_id, all_day_busy=policy)
    google_sim.create_event(clinician.user, day(3), day(4), "Day off", transparency=marked)
    settle(deployment, google_sim)
    found = [(b.start_date, b.end_date) for b in blocks(clinician.integration.integration_id)]
    assert found == ([(day(3), day(4))] if expected else [])


def test_fm11_an_outlook_all_day_event_is_not_shifted_by_the_utc_view(deployment, microsoft_sim, tenant_id):
    tokyo = ZoneInfo("Asia/Tokyo")  # its midnight is 15:00 UTC the day before
    clinician = two_way_microsoft(deployment.stack, microsoft_sim, tenant_id, all_day_busy=AllDayPolicy.ALWAYS)
    start(clinician.integration.integration_id)
    settle(deployment, microsoft_sim)
    first = dt.datetime.combine(day(5), dt.time(0), tokyo)
    microsoft_sim.create_event(clinician.user, first, first + dt.timedelta(days=2), "Trip",
                               calendar=clinician.integration.calendar_id, isAllDay=True)
    settle(deployment, microsoft_sim)
    assert [(b.start_date, b.end_date) for b in blocks(clinician.integration.integration_id)] == [
        (day(5), day(6)), (day(6), day(7))]  # a block per day, each on its own date


def test_fm12_moved_and_cancelled_occurrences_on_every_provider(deployment, google_sim, microsoft_sim, tenant_id):
    google = watched_google(deployment, google_sim, tenant_id)
    graph = two_way_microsoft(deployment.stack, microsoft_sim, tenant_id)
    start(graph.integration.integration_id)
    settle(deployment, microsoft_sim)
    series = google_sim.create_event(google.user, at(7), at(8), "Run", time_zone=ZONE.key,
                                     recurrence=["RRULE:FREQ=DAILY;COUNT=3"])
    master = microsoft_sim.create_event(graph.user, at(7), at(8), "Run", calendar=graph.integration.calendar_id,
                                        recurrence={"pattern": {"type": "daily", "interval": 1},
                                                    "range": {"type": "numbered", "numberOfOccurrences": 3,
                                                              "startDate": day(1).isoformat(),
                                                              "recurrenceTimeZone": ZONE.key}})
    settle(deployment, google_sim, microsoft_sim)
    google_sim.move_instance(google.user, series["id"], at(7, 2), at(19, 2))
    google_sim.cancel_instance(google.user, series["id"], at(7, 3))
    microsoft_sim.move_occurrence(graph.user, master["id"], at(7, 2), at(19, 2))
    microsoft_sim.cancel_occurrence(graph.user, master["id"], at(7, 3))
    settle(deployment, google_sim, microsoft_sim)
    expected = [(at(7, 1), at(8, 1)), (at(19, 2), at(20, 2))]
    assert spans(google.integration.integration_id) == expected
    assert spans(graph.integration.integration_id) == expected
