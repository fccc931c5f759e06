"""One regression test per push-sync failure mode listed in ``docs/architecture.md`` ("Failure modes we
test"): 1-5, 8, 9 and 14.

They run against the local stack (DynamoDB Local, moto, Radicale) and read calendars back from the
server. Google's 410 on a sync token and Graph's quirks belong to providers not built here yet, so
mode 8 is proved through the CalDAV path: a lost sync state leads to a bounded full resync of the window
that re-links existing events instead of duplicating them. Faults the real server cannot be made to
produce on demand come from the fault-injecting wrapper around the real CalDAV provider.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import httpx
import pytest

from calsync.aws import secret_store as secrets
from calsync.domain.ledger import LedgerState
from calsync.domain.model import IntegrationStatus
from calsync.services import engine, lifecycle, recovery, sweeper, writers
from calsync.services.sweeper import backfill
from calsync.store import integrations, ledger
from calsync.store.tables import LedgerItem
from devstack.clinicians import CalDavClinician
from devstack.stack import LocalStack, StackResources
from tests.support.faults import RETRY_AFTER_SECONDS, Fault, FaultPlan
from tests.support.pipeline import calendar
from tests.support.reliability import (
    Clock,
    Ehr,
    connect,
    entry,
    received,
    shown,
    status_events_queue,
    title,
    uid,
)


def quiesce(clock: Clock, runs: int = 8) -> None:
    for _ in range(runs):
        if sweeper.run(clock.advance(minutes=61)).syncs == 0:
            return
    raise AssertionError("the sweeper did not quiesce")


def test_fm01_revoked_credentials_show_error_are_announced_and_parked_work_is_replayed_after_reconnect(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clock: Clock, ehr: Ehr) -> None:
    statuses = status_events_queue(stack, stack_resources.event_bus_name, tenant_id)
    clinician = connect(stack, tenant_id)
    first = ehr.change("apt-1", 9)
    engine.handle_change(first, clock.now)
    # the clinician revokes the app-specific password: calsync's credentials stop working
    stack.radicale.add_user(clinician.username, "revoked-and-replaced")
    secrets.forget()
    writers.forget()
    moved, second = ehr.change("apt-1", 10), ehr.change("apt-2", 13)
    for change in (moved, second):
        assert set(engine.handle_change(change, clock.now).outcomes.values()) == {engine.Outcome.PARKED}
    broken = integrations.get(clinician.integration.integration_id)
    assert broken is not None
    assert (broken.status, broken.status_reason, broken.last_error) == (IntegrationStatus.ERROR, "reauth_required",
                                                                        "http_401")
    assert [e["detail"]["status"] for e in received(stack, statuses)] == ["active", "error"]
    reader = dataclasses.replace(clinician, password="revoked-and-replaced")
    assert shown(reader) == [(title(clinician, first), "09:00")]  # nothing dropped, nothing lost
    # probes find the cause has not cleared: still error, still parked, probing less often
    sweeper.run(clock.advance(minutes=16))
    assert integrations.get(clinician.integration.integration_id).status is IntegrationStatus.ERROR  # type: ignore[union-attr]
    # the clinician reconnects with a new app password: active again, parked work replayed at once
    lifecycle.reconnect(clinician.integration.integration_id,
                        {"username": clinician.username, "password": "revoked-and-replaced"}, clock.now)
    clinician = dataclasses.replace(clinician, password="revoked-and-replaced")
    assert shown(clinician) == sorted([(title(clinician, moved), "10:00"), (title(clinician, second), "13:00")])
    healthy = integrations.get(clinician.integration.integration_id)
    assert healthy is not None and (healthy.status, healthy.last_error) == (IntegrationStatus.ACTIVE, None)
    assert [e["detail"]["status"] for e in received(stack, statuses)] == ["active"]
    quiesce(clock)
    assert len(calendar(clinician)) == 2


def test_fm02_reschedules_and_reassignments_leave_exactly_one_event_per_appointment_and_calendar(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr) -> None:
    okafor, lindqvist = connect(stack, tenant_id), connect(stack, tenant_id, "dr-lindqvist")
    booked = ehr.change("apt-1", 9)
    engine.handle_change(booked, clock.now)
    engine.handle_change(ehr.change("apt-1", 11), clock.now)  # rescheduled
    engine.handle_change(ehr.change("apt-1", 11), clock.now)  # "approved": the same slot again
    reassigned = ehr.change("apt-1", 12, practitioner="dr-lindqvist")
    engine.handle_change(reassigned, clock.now)
    engine.handle_change(reassigned, clock.now)  # duplicate delivery
    quiesce(clock)
    assert calendar(okafor) == []  # the previous host keeps nothing behind
    assert [e.uid for e in calendar(lindqvist)] == [uid(lindqvist, reassigned)]
    assert shown(lindqvist) == [(title(lindqvist, reassigned), "12:00")]


def test_fm03_a_retried_create_and_a_reconnect_re_link_instead_of_duplicating(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    booked = ehr.change("apt-1", 9)
    plan.arm(Fault.LOST_RESPONSE)  # created, but the answer never came back
    engine.handle_change(booked, clock.now)
    quiesce(clock)  # the retry finds it (If-None-Match → 412 → re-read) and re-links
    assert [e.uid for e in calendar(clinician)] == [uid(clinician, booked)]
    # cancel, then book again: the deterministic identity is reused, not refused
    engine.handle_change(ehr.change("apt-1", 9, status="cancelled"), clock.now)
    rebooked = ehr.change("apt-1", 15)
    engine.handle_change(rebooked, clock.now)
    # disconnect and reconnect: the window is brought up to date without a second copy
    lifecycle.disconnect(clinician.integration.integration_id)
    later = ehr.change("apt-2", 10)
    engine.handle_change(later, clock.now)  # not pushed while disconnected
    lifecycle.reconnect(clinician.integration.integration_id, now=clock.now)
    quiesce(clock)
    assert sorted(e.uid for e in calendar(clinician)) == sorted([uid(clinician, rebooked), uid(clinician, later)])
    assert shown(clinician) == sorted([(title(clinician, rebooked), "15:00"), (title(clinician, later), "10:00")])


def test_fm04_cancellations_propagate_and_cancelled_events_never_come_back(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    booked = ehr.change("apt-1", 9)
    engine.handle_change(booked, clock.now)
    cancelled = ehr.change("apt-1", 9, status="cancelled")
    plan.arm(Fault.UNAVAILABLE)  # the delete fails once: it is retried, not forgotten
    engine.handle_change(cancelled, clock.now)
    assert len(calendar(clinician)) == 1
    quiesce(clock)
    assert calendar(clinician) == []
    assert engine.handle_change(booked, clock.now).stale  # the old booking redelivered late: dropped
    removed = entry(clinician, booked)
    assert removed is not None and removed.state is LedgerState.REMOVED  # the tombstone
    lifecycle.update(clinician.integration.model_copy(update={"privacy": clinician.integration.privacy}), clock.now)
    recovery.schedule_resync(clinician.integration.integration_id, clock.now)
    quiesce(clock)  # a full resync and the gap sweep both leave it deleted
    assert calendar(clinician) == []
    assert plan.methods["delete"] == 2 and plan.methods["upsert"] == 1


def test_fm05_a_calendar_that_fails_or_vanishes_never_cascades_into_deletes(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    booked = [ehr.change(f"apt-{n}", 8 + n) for n in range(4)]
    for change in booked:
        engine.handle_change(change, clock.now)
    plan.arm(Fault.UNAVAILABLE, times=3)  # an outage: every call fails for a while
    for change in booked[:3]:
        engine.handle_change(ehr.change(change.appointment_id, change.start.astimezone(dt.UTC).hour), clock.now)
    assert plan.methods["delete"] == 0 and len(calendar(clinician)) == 4
    # the calendar collection disappears (deleted in the calendar app): parked, error, still no delete
    with httpx.Client(auth=(clinician.username, clinician.password)) as client:
        assert client.request("DELETE", clinician.calendar_url).status_code in (200, 204)
    moved = ehr.change("apt-3", 16)
    assert set(engine.handle_change(moved, clock.now).outcomes.values()) == {engine.Outcome.PARKED}
    gone = integrations.get(clinician.integration.integration_id)
    assert gone is not None and (gone.status, gone.status_reason) == (IntegrationStatus.ERROR, "calendar_gone")
    assert plan.methods["delete"] == 0
    # the clinician makes the calendar again: the recovery probe notices, the work is replayed
    with httpx.Client(auth=(clinician.username, clinician.password)) as client:
        assert client.request("MKCALENDAR", clinician.calendar_url).status_code == 201
    sweeper.run(clock.advance(minutes=16))
    recovered = integrations.get(clinician.integration.integration_id)
    assert recovered is not None and recovered.status is IntegrationStatus.ACTIVE
    quiesce(clock)
    assert plan.methods["delete"] == 0
    assert (title(clinician, moved), "16:00") in shown(clinician)


def test_fm08_a_lost_sync_state_leads_to_a_bounded_full_resync_without_duplicates(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan,
        monkeypatch: pytest.MonkeyPatch) -> None:
    clinician = connect(stack, tenant_id)
    booked = [ehr.change(f"apt-{n}", 8 + n, day_offset=2 + n % 3) for n in range(9)]
    for change in booked:
        engine.handle_change(change, clock.now)
    # every bit of sync state is lost (Google's answer to a dead sync token is the same: start over)
    for item in LedgerItem.query(clinician.integration.integration_id):
        item.delete()
    calls_before = plan.total_calls
    recovery.schedule_resync(clinician.integration.integration_id, clock.now)
    monkeypatch.setattr(backfill, "PAGE", 4)
    runs = 0
    while (report := sweeper.run(clock.advance(minutes=1), budget=sweeper.Budget(syncs=4, backfill_items=4))).syncs:
        runs += 1
        assert report.syncs <= 4 and runs < 10  # bounded per run, resumed by the next
    assert runs == 3
    assert plan.total_calls - calls_before == len(booked)  # one call per event: re-linked, not re-created
    assert sorted(e.uid for e in calendar(clinician)) == sorted(uid(clinician, c) for c in booked)
    assert all(e is not None and e.state is LedgerState.SYNCED for e in (entry(clinician, c) for c in booked))


def test_fm09_rate_limits_are_honoured_and_a_throttled_calendar_is_not_hammered(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    booked = [ehr.change(f"apt-{n}", 8 + n) for n in range(5)]
    plan.arm(Fault.UNAVAILABLE, times=len(booked))
    for change in booked:
        engine.handle_change(change, clock.now)
    calls = plan.total_calls
    plan.arm(Fault.RATE_LIMITED)  # the first retry is told to slow down, with Retry-After
    report = sweeper.run(clock.advance(minutes=2))
    assert plan.total_calls - calls == 1  # the other four wait: not one more call this run
    assert report.outcomes == {"retry": 1}
    slowed = [e for e in (entry(clinician, c) for c in booked) if e is not None and e.attempts == 2]
    assert len(slowed) == 1 and slowed[0].next_attempt_at is not None
    assert slowed[0].next_attempt_at >= clock.now + dt.timedelta(seconds=RETRY_AFTER_SECONDS - 1)
    quiesce(clock)
    assert len(calendar(clinician)) == len(booked)


def test_fm14_caldav_etag_conflicts_and_events_removed_by_hand_are_resolved(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    first, second = ehr.change("apt-1", 9), ehr.change("apt-2", 11)
    for change in (first, second):
        engine.handle_change(change, clock.now)
    href_of = {e.uid: e.href for e in calendar(clinician)}
    # the clinician edits one event in their calendar app (new etag) and deletes the other
    with httpx.Client(auth=(clinician.username, clinician.password)) as client:
        edited = _resource(clinician, href_of[uid(clinician, first)])
        raw = client.get(edited).text.replace("SUMMARY:", "SUMMARY:edited ")
        assert client.put(edited, content=raw, headers={"Content-Type": "text/calendar"}).status_code in (201, 204)
        assert client.delete(_resource(clinician, href_of[uid(clinician, second)])).status_code in (200, 204)
    stale_etag = entry(clinician, first)
    assert stale_etag is not None and stale_etag.etag is not None
    moved_first, moved_second = ehr.change("apt-1", 10), ehr.change("apt-2", 12)
    for change in (moved_first, moved_second):
        assert set(engine.handle_change(change, clock.now).outcomes.values()) == {engine.Outcome.WRITTEN}
    assert shown(clinician) == sorted([(title(clinician, moved_first), "10:00"),
                                       (title(clinician, moved_second), "12:00")])
    assert len(calendar(clinician)) == 2
    fresh = entry(clinician, first)
    assert fresh is not None and fresh.etag != stale_etag.etag
    assert ledger.get(clinician.integration.integration_id, f"{tenant_id}#apt-2") is not None


def _resource(clinician: CalDavClinician, href: str) -> str:
    return str(httpx.URL(clinician.calendar_url).join(href))
