"""Integration status and what each step sets in motion: connect (pending → active), pause, resume with
and without backfill, a settings change that rewrites what was pushed, persistent rejection and its
automatic recovery, and every transition announced as ``Integration Status Changed``."""

from __future__ import annotations

from calsync.domain import rules
from calsync.domain.ledger import LedgerState
from calsync.domain.model import ClientDisplay, IntegrationStatus, PrivacySettings
from calsync.services import engine, lifecycle, sweeper
from calsync.store import appointments, integrations
from devstack.stack import LocalStack, StackResources
from tests.support.faults import Fault, FaultPlan
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
)


def statuses(stack: LocalStack, queue_url: str) -> list[tuple[str, str, str | None]]:
    return [(e["detail"]["previous_status"], e["detail"]["status"], e["detail"]["reason"])
            for e in received(stack, queue_url)]


def test_a_new_connection_is_pending_while_its_first_sync_runs_then_active(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clock: Clock, ehr: Ehr) -> None:
    announced = status_events_queue(stack, stack_resources.event_bus_name, tenant_id)
    booked = [ehr.change("apt-1", 9), ehr.change("apt-2", 11), ehr.change("apt-3", 13, status="cancelled")]
    for change in booked:  # the EHR's appointments, from before the clinician connected
        appointments.save_if_newer(change, received_at=clock.now)
    clinician = connect(stack, tenant_id)
    lifecycle.connect(clinician.integration, clock.now)
    assert integrations.get(clinician.integration.integration_id).status is IntegrationStatus.PENDING  # type: ignore[union-attr]
    sweeper.run(clock.advance(seconds=5))
    assert shown(clinician) == sorted([(title(clinician, booked[0]), "09:00"), (title(clinician, booked[1]), "11:00")])
    active = integrations.get(clinician.integration.integration_id)
    assert active is not None and active.status is IntegrationStatus.ACTIVE and active.last_synced_at is not None
    assert statuses(stack, announced) == [("pending", "active", None)]


def test_pause_stops_pushes_and_resume_replays_parked_work_but_not_the_missed_changes(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clock: Clock, ehr: Ehr,
        plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    announced = status_events_queue(stack, stack_resources.event_bus_name, tenant_id)
    waiting = ehr.change("apt-1", 9)
    plan.arm(Fault.UNAVAILABLE)
    engine.handle_change(waiting, clock.now)  # a retry is due in a minute
    assert lifecycle.pause(clinician.integration.integration_id)
    missed = ehr.change("apt-2", 11)
    assert set(engine.handle_change(missed, clock.now).outcomes.values()) == {engine.Outcome.UNCHANGED}
    clock.advance(minutes=2)
    while sweeper.run(clock.now).cut_short:  # the retry falls due while paused: parked, not pushed; the gap
        pass  # sweep's first look (a first pass reads back a day of earlier tests' changes) passes it by too
    parked = entry(clinician, waiting)
    assert parked is not None and parked.state is LedgerState.PARKED and parked.last_error == "paused"
    assert calendar(clinician) == []
    assert lifecycle.resume(clinician.integration.integration_id, backfill=False, now=clock.now)
    sweeper.run(clock.advance(seconds=5))
    assert shown(clinician) == [(title(clinician, waiting), "09:00")]  # no backfill: the replay only
    assert statuses(stack, announced) == [("pending", "paused", None), ("paused", "active", None)]
    # a change missed while paused is still recent: the gap sweep's second look at it, an hour after it
    # arrived, brings it (never lost)
    clock.advance(minutes=61)
    while sweeper.run(clock.now).cut_short:  # the pass of the last hour spans runs when earlier tests changed a lot
        pass
    assert shown(clinician) == sorted([(title(clinician, waiting), "09:00"), (title(clinician, missed), "11:00")])


def test_resume_with_backfill_brings_the_whole_window_up_to_date(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    kept = ehr.change("apt-1", 9)
    engine.handle_change(kept, clock.now)
    lifecycle.pause(clinician.integration.integration_id)
    moved, added, cancelled = ehr.change("apt-1", 10), ehr.change("apt-2", 11), ehr.change("apt-3", 12)
    for change in (moved, added, cancelled):
        engine.handle_change(change, clock.now)
    engine.handle_change(ehr.change("apt-3", 12, status="cancelled"), clock.now)
    lifecycle.resume(clinician.integration.integration_id, backfill=True, now=clock.now)
    sweeper.run(clock.advance(seconds=5))
    assert shown(clinician) == sorted([(title(clinician, moved), "10:00"), (title(clinician, added), "11:00")])
    calls = plan.calls[clinician.integration.integration_id]
    sweeper.run(clock.advance(minutes=61))
    assert plan.calls[clinician.integration.integration_id] == calls  # nothing left to do for it


def test_a_privacy_change_rewrites_every_event_already_pushed(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr) -> None:
    clinician = connect(stack, tenant_id)
    booked = [ehr.change(f"apt-{n}", 9 + n, client={"id": f"cl-{n}", "internal_id": f"MRN-{n}",
                                                   "first_name": "Ana", "last_name": "Silva"}) for n in range(3)]
    for change in booked:
        engine.handle_change(change, clock.now)
    assert {summary for summary, _ in shown(clinician)} == {"#MRN-0", "#MRN-1", "#MRN-2"}
    stricter = clinician.integration.privacy.model_copy(update={"client_display": ClientDisplay.NONE})
    lifecycle.update(clinician.integration.model_copy(update={"privacy": stricter}), clock.now)
    sweeper.run(clock.advance(seconds=5))
    assert {summary for summary, _ in shown(clinician)} == {"Appointment"}
    assert len(calendar(clinician)) == 3


def test_persistent_rejection_moves_to_error_and_recovers_by_itself_when_it_stops(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clock: Clock, ehr: Ehr,
        plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id, privacy=PrivacySettings())
    engine.handle_change(ehr.change("apt-0", 8), clock.now)  # pending → active
    announced = status_events_queue(stack, stack_resources.event_bus_name, tenant_id)
    plan.arm(Fault.REJECTED, times=rules.PERSISTENT_REJECTIONS)
    refused = [ehr.change(f"apt-{n}", 9 + n) for n in range(1, 1 + rules.PERSISTENT_REJECTIONS)]
    for change in refused:
        assert set(engine.handle_change(change, clock.now).outcomes.values()) == {engine.Outcome.DEAD}
    broken = integrations.get(clinician.integration.integration_id)
    assert broken is not None
    assert (broken.status, broken.status_reason, broken.last_error) == (
        IntegrationStatus.ERROR, rules.PERSISTENT_REJECTION, "http_400")
    later = ehr.change("apt-9", 16)
    assert set(engine.handle_change(later, clock.now).outcomes.values()) == {engine.Outcome.PARKED}
    report = sweeper.run(clock.advance(minutes=16))  # the probe: the provider accepts writes again
    assert report.probed == 1
    healthy = integrations.get(clinician.integration.integration_id)
    assert healthy is not None and (healthy.status, healthy.last_error) == (IntegrationStatus.ACTIVE, None)
    sweeper.run(clock.advance(minutes=1))  # the replay: parked and dead work, once
    assert len(calendar(clinician)) == 2 + len(refused)
    assert statuses(stack, announced) == [("active", "error", "persistent_rejection"), ("error", "active", None)]
