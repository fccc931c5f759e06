"""The retry sweeper against the local stack: due retries with the latest snapshot, the gap sweep
repairing what a crash left behind, bounded runs that resume, and concurrent runs.

Time is moved, never waited for: every calsync call gets ``clock.now``.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from calsync.core.errors import LeaseBusyError
from calsync.domain import retry_policy
from calsync.domain.ledger import LedgerState
from calsync.services import engine, sweeper
from calsync.services.sweeper import gap
from calsync.store import appointments, ledger
from devstack.stack import LocalStack
from tests.support.faults import RETRY_AFTER_SECONDS, Fault, FaultPlan, SimulatedCrash
from tests.support.pipeline import calendar
from tests.support.reliability import (
    Clock,
    Ehr,
    connect,
    entry,
    no_lease_waits,
    shown,
    title,
    uid,
)


def sweep_until_quiet(clock: Clock, runs: int = 12, step: dt.timedelta = dt.timedelta(minutes=61)) -> list[
        sweeper.SweepReport]:
    """Runs the sweeper, moving the clock past every retry delay, until a run finds nothing to do."""
    reports = []
    for _ in range(runs):
        clock.now += step
        report = sweeper.run(clock.now)
        reports.append(report)
        if report.syncs == 0 and not report.cut_short:
            return reports
    raise AssertionError(f"the sweeper did not quiesce: {[r.as_dict() for r in reports]}")


def test_a_crash_between_the_provider_write_and_the_ledger_write_converges_to_one_event(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan,
        monkeypatch: pytest.MonkeyPatch) -> None:
    no_lease_waits(monkeypatch)
    clinician = connect(stack, tenant_id)
    booked = ehr.change("apt-1", 9)
    plan.arm(Fault.CRASH_AFTER_WRITE)
    with pytest.raises(SimulatedCrash):
        engine.handle_change(booked, clock.now)
    # the calendar has the event, the ledger does not know it, and the dead invocation's lease remains
    assert shown(clinician) == [(title(clinician, booked), "09:00")]
    crashed = entry(clinician, booked)
    assert crashed is not None and crashed.state is None and crashed.external_id is None
    with pytest.raises(LeaseBusyError):  # SQS redelivers at once: the lease still holds it off
        engine.handle_change(booked, clock.now)
    # the lease expires; the gap sweep finds the ledger behind the snapshot and repairs it
    clock.advance(minutes=2)
    while sweeper.run(clock.now).cut_short:  # a first pass reads back the day's changes, of earlier tests too
        pass
    assert [e.uid for e in calendar(clinician)] == [uid(clinician, booked)]
    settled = entry(clinician, booked)
    assert settled is not None and settled.state is LedgerState.SYNCED and not settled.uncertain
    assert sweep_until_quiet(clock)[-1].syncs == 0


def test_a_cancel_after_a_crashed_create_removes_the_event_the_ledger_never_recorded(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    booked = ehr.change("apt-1", 9)
    plan.arm(Fault.CRASH_AFTER_WRITE)
    with pytest.raises(SimulatedCrash):
        engine.handle_change(booked, clock.now)
    cancelled = ehr.change("apt-1", 9, status="cancelled")
    engine.handle_change(cancelled, clock.advance(minutes=2))  # after the lease expired
    assert calendar(clinician) == []
    assert engine.handle_change(booked, clock.now).stale  # the redelivered create is older: dropped
    assert sweep_until_quiet(clock)[0].syncs == 0
    assert calendar(clinician) == []


def test_a_lost_response_then_a_cancel_leaves_nothing_behind(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    booked = ehr.change("apt-1", 9)
    plan.arm(Fault.LOST_RESPONSE)
    result = engine.handle_change(booked, clock.now)
    assert set(result.outcomes.values()) == {engine.Outcome.RETRY}
    assert len(calendar(clinician)) == 1  # written, though calsync was told it failed
    engine.handle_change(ehr.change("apt-1", 9, status="cancelled"), clock.advance(seconds=5))
    assert calendar(clinician) == []
    sweep_until_quiet(clock)
    assert calendar(clinician) == []


def test_a_retry_pushes_the_latest_snapshot_not_the_failed_payload(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    first = ehr.change("apt-1", 9)
    plan.arm(Fault.UNAVAILABLE)
    engine.handle_change(first, clock.now)
    failed = entry(clinician, first)
    assert failed is not None and failed.state is LedgerState.RETRY and failed.next_attempt_at is not None
    # a newer version is stored while the retry waits (its own delivery died before syncing)
    moved = ehr.change("apt-1", 14)
    assert appointments.save_if_newer(moved, received_at=clock.now)
    report = sweeper.run(failed.next_attempt_at + dt.timedelta(seconds=1))
    assert report.retried == 1
    assert shown(clinician) == [(title(clinician, moved), "14:00")]


def test_retries_follow_the_policy_then_the_item_is_dead_and_the_metric_says_so(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan,
        capsys: pytest.CaptureFixture[str]) -> None:
    clinician = connect(stack, tenant_id)
    booked = ehr.change("apt-1", 9)
    plan.arm(Fault.UNAVAILABLE, times=retry_policy.MAX_RETRIES + 1)
    engine.handle_change(booked, clock.now)
    waits = []
    for _ in range(retry_policy.MAX_RETRIES):
        waiting = entry(clinician, booked)
        assert waiting is not None and waiting.state is LedgerState.RETRY and waiting.next_attempt_at is not None
        waits.append((waiting.next_attempt_at - clock.now).total_seconds())
        clock.now = waiting.next_attempt_at
        assert sweeper.run(clock.now).retried == 1
    for wait, base in zip(waits, retry_policy.DELAYS_SECONDS, strict=True):
        assert base * (1 - retry_policy.JITTER) - 1 <= wait <= base * (1 + retry_policy.JITTER) + 1
    dead = entry(clinician, booked)
    assert dead is not None and dead.state is LedgerState.DEAD and dead.attempts == retry_policy.MAX_RETRIES + 1
    assert dead.next_attempt_at is None  # off the due index: nothing retries it any more
    from calsync.core.observability import metrics

    metrics.flush_metrics()
    assert '"SyncDead"' in capsys.readouterr().out
    assert calendar(clinician) == []
    assert plan.calls[clinician.integration.integration_id] == retry_policy.MAX_RETRIES + 1  # one per attempt


def test_retry_after_wins_when_it_is_longer(stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr,
                                            plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    booked = ehr.change("apt-1", 9)
    plan.arm(Fault.RATE_LIMITED)
    engine.handle_change(booked, clock.now)
    waiting = entry(clinician, booked)
    assert waiting is not None and waiting.next_attempt_at is not None
    assert (waiting.next_attempt_at - clock.now).total_seconds() == pytest.approx(RETRY_AFTER_SECONDS, abs=1)
    assert sweeper.run(clock.advance(minutes=61)).retried == 0  # not due yet, whatever the policy said
    assert sweeper.run(clock.advance(minutes=60)).retried == 1
    assert len(calendar(clinician)) == 1


def test_each_run_does_bounded_work_and_the_next_resumes(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    clinician = connect(stack, tenant_id)
    booked = [ehr.change(f"apt-{n:02d}", 8 + n % 9, day_offset=2 + n // 9) for n in range(12)]
    plan.arm(Fault.UNAVAILABLE, times=len(booked))
    for appointment in booked:
        engine.handle_change(appointment, clock.now)
    clock.advance(minutes=2)
    runs = []
    while True:
        report = sweeper.run(clock.now, budget=sweeper.Budget(syncs=6, reads=400))
        runs.append(report)
        assert report.syncs <= 6 and report.retried <= 3  # due retries take at most half of a run
        if report.syncs == 0:
            break
        assert len(runs) < 10
    assert [r.retried for r in runs] == [3, 3, 3, 3, 0]
    assert len(calendar(clinician)) == len(booked)
    assert plan.calls[clinician.integration.integration_id] == 2 * len(booked)


def test_the_gap_sweep_resumes_where_a_cut_short_run_stopped(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gap, "PAGE", 3)
    clinician = connect(stack, tenant_id)
    booked = [ehr.change(f"apt-{n:02d}", 8 + n) for n in range(7)]
    for appointment in booked:  # stored, but every delivery died before it synced
        appointments.save_if_newer(appointment, received_at=clock.now)
    clock.advance(minutes=30)  # a new pass may start
    repaired, runs = 0, 0
    while repaired < len(booked):
        report = sweeper.run(clock.now, budget=sweeper.Budget(syncs=2, reads=1000))
        assert report.syncs <= 2
        repaired += report.gap_repaired
        runs += 1
        assert runs < 50
    assert repaired == len(booked)
    assert len(calendar(clinician)) == len(booked)


def test_a_time_budget_stops_the_run_well_before_the_deadline(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan) -> None:
    connect(stack, tenant_id)
    for n in range(3):
        appointments.save_if_newer(ehr.change(f"apt-{n}", 9 + n), received_at=clock.now)
    left = iter([60_000, 60_000, 1_000])  # Lambda's remaining time, read before each piece of work
    report = sweeper.run(clock.advance(minutes=30),
                         budget=sweeper.Budget(remaining_ms=lambda: next(left, 0), margin_ms=25_000))
    assert report.cut_short
    assert report.syncs <= 1


def test_concurrent_sweeper_runs_and_handlers_write_each_event_once(
        stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr, plan: FaultPlan,
        monkeypatch: pytest.MonkeyPatch) -> None:
    no_lease_waits(monkeypatch)
    clinician = connect(stack, tenant_id)
    booked = [ehr.change(f"apt-{n}", 9 + n) for n in range(4)]
    for appointment in booked:
        appointments.save_if_newer(appointment, received_at=clock.now)
    clock.advance(minutes=30)
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def sweep() -> None:
        start.wait()
        sweeper.run(clock.now)

    def handle(appointment_index: int) -> None:
        start.wait()
        try:
            engine.handle_change(booked[appointment_index], clock.now)
        except LeaseBusyError:
            pass  # SQS would redeliver; the sweeper or the other invocation wrote it
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=sweep), threading.Thread(target=sweep),
               threading.Thread(target=handle, args=(0,)), threading.Thread(target=handle, args=(1,))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures
    sweep_until_quiet(clock)
    seen = calendar(clinician)
    assert sorted(e.uid for e in seen) == sorted(uid(clinician, a) for a in booked)
    assert plan.calls[clinician.integration.integration_id] == len(booked)  # each event written once


def test_items_of_a_gone_integration_are_retired(stack: LocalStack, tenant_id: str, clock: Clock, ehr: Ehr,
                                                 plan: FaultPlan) -> None:
    from calsync.store.tables import IntegrationItem

    clinician = connect(stack, tenant_id)
    booked = ehr.change("apt-1", 9)
    plan.arm(Fault.UNAVAILABLE)
    engine.handle_change(booked, clock.now)
    IntegrationItem(clinician.integration.integration_id).delete()
    report = sweeper.run(clock.advance(minutes=2))
    assert report.retired == 1
    gone = entry(clinician, booked)
    assert gone is not None and gone.state is LedgerState.DEAD and gone.last_error == "integration_gone"
    assert ledger.get(clinician.integration.integration_id, "x#y") is None
