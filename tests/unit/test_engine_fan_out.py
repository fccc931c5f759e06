"""The syncs of one change run side by side (``calsync.services.fanout``), each under its own ledger lease,
over the in-memory ports with real threads: they overlap, the pool bounds them, one failure neither stops
the others nor is hidden, and concurrent changes still leave every calendar showing the latest snapshot."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.core.errors import LeaseBusyError, ProviderUnavailableError
from calsync.domain import rules
from calsync.domain.contract import AppointmentChanged
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.domain.ledger import LedgerState
from calsync.domain.model import Integration, Provider
from calsync.domain.policy import PrivacyPolicy
from calsync.domain.privacy import content_hash
from calsync.domain.rules import Outcome
from calsync.providers.base import CalendarProvider
from calsync.services import engine as engine_module
from calsync.services import fanout
from calsync.services.engine import Engine
from tests.support.appointments import appointment
from tests.support.memory import MemoryCalendar, MemoryIntegrations, MemoryPorts, MemoryWriters

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
TENANT = "tenant-1"


def following(practitioner_id: str, count: int) -> list[Integration]:
    return [Integration(integration_id=f"int-{practitioner_id}-{n}", tenant_id=TENANT, practitioner_id=practitioner_id,
                        provider=Provider.CALDAV, calendar_id=f"https://cal.example/{practitioner_id}/{n}/")
            for n in range(count)]


class Watched(MemoryCalendar):
    """A calendar whose writes take a while and report how many writes are in flight at once."""

    def __init__(self, name: str, meter: Meter) -> None:
        super().__init__(name)
        self.meter = meter

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        with self.meter.writing():
            return super().upsert(key, event, known)

    def delete(self, key: EventKey, known: Written | None) -> None:
        with self.meter.writing():
            super().delete(key, known)


class Meter:
    def __init__(self, pause: float = 0.0, barrier: threading.Barrier | None = None, jitter: bool = False,
                 patience: float = 10.0) -> None:
        self.pause, self.barrier, self.jitter, self.patience = pause, barrier, jitter, patience
        self.in_flight = self.most = 0
        self._lock = threading.Lock()

    def writing(self) -> Any:
        meter = self

        class Writing:
            def __enter__(self) -> None:
                with meter._lock:
                    meter.in_flight += 1
                    meter.most = max(meter.most, meter.in_flight)
                if meter.barrier is not None:
                    meter.barrier.wait(timeout=meter.patience)  # every write of the change waits for all the others
                time.sleep(meter.pause * (random.random() if meter.jitter else 1))

            def __exit__(self, *exc: object) -> None:
                with meter._lock:
                    meter.in_flight -= 1

        return Writing()


class WatchedWriters(MemoryWriters):
    def __init__(self, meter: Meter) -> None:
        super().__init__()
        self.meter = meter

    def provider_for(self, integration: Integration) -> CalendarProvider:
        with self._lock:
            return self.calendars.setdefault(integration.integration_id,
                                             Watched(integration.integration_id, self.meter))


def engine_over(ports: MemoryPorts, pool: fanout.FanOut) -> Engine:
    from dataclasses import replace

    return Engine(replace(ports.sync_ports(), fan_out=pool))


def booking(version: int = 1, **fields: Any) -> AppointmentChanged:
    return appointment(version=version, updated_at=f"2026-11-23T14:{version:02d}:00Z", **fields)


@pytest.fixture(autouse=True)
def no_lease_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "LEASE_WAITS_SECONDS", ())


def test_the_syncs_of_one_change_overlap() -> None:
    # twenty calendars whose writes each wait until all twenty are writing: only side by side can they finish
    meter = Meter(barrier=threading.Barrier(20))
    ports = MemoryPorts(integrations=MemoryIntegrations(*following("dr-1", 20)), writers=WatchedWriters(meter))
    result = engine_over(ports, fanout.ThreadPool(32)).handle_change(booking(), NOW)
    assert set(result.outcomes.values()) == {Outcome.WRITTEN} and len(result.outcomes) == 20
    assert meter.most == 20


def test_side_by_side_each_sync_applies_the_practice_policy_and_records_its_disclosure() -> None:
    ports = MemoryPorts(integrations=MemoryIntegrations(*following("dr-1", 20)))
    ports.policies.by_tenant[TENANT] = PrivacyPolicy(sensitive_visit_types=frozenset({"Therapy"}))
    result = engine_over(ports, fanout.ThreadPool(32)).handle_change(booking(visit_type="Therapy"), NOW)
    assert set(result.outcomes.values()) == {Outcome.WRITTEN} and len(result.outcomes) == 20
    assert sorted(record.integration_id for record in ports.audit.records) == sorted(result.outcomes)
    for integration_id in result.outcomes:
        (shown,) = ports.calendar(integration_id).events.values()
        assert shown.summary == "Busy" and "Therapy" not in shown.description


def test_one_after_another_they_would_not_have() -> None:
    meter = Meter(barrier=threading.Barrier(2), patience=0.5)
    ports = MemoryPorts(integrations=MemoryIntegrations(*following("dr-1", 2)), writers=WatchedWriters(meter))
    with pytest.raises(threading.BrokenBarrierError):
        engine_over(ports, fanout.IN_LINE).handle_change(booking(), NOW)


def test_the_pool_bounds_how_many_run_at_once() -> None:
    meter = Meter(pause=0.02)
    ports = MemoryPorts(integrations=MemoryIntegrations(*following("dr-1", 12)), writers=WatchedWriters(meter))
    result = engine_over(ports, fanout.ThreadPool(3)).handle_change(booking(), NOW)
    assert len(result.outcomes) == 12
    assert 2 <= meter.most <= 4  # three pool threads and the calling thread


def test_a_failing_sync_neither_stops_the_others_nor_is_hidden() -> None:
    targets = following("dr-1", 5)
    ports = MemoryPorts(integrations=MemoryIntegrations(*targets))
    busy = targets[2].integration_id
    ports.ledger.acquire(busy, booking().key, "another-invocation", 60, NOW)  # held elsewhere
    ports.calendar(targets[4].integration_id).fail_next(lambda: ProviderUnavailableError("memory", "http_503", 503))
    engine = engine_over(ports, fanout.ThreadPool(8))

    with pytest.raises(LeaseBusyError):
        engine.handle_change(booking(), NOW)
    written = {i.integration_id for i in targets if ports.calendar(i.integration_id).events}
    assert written == {targets[n].integration_id for n in (0, 1, 3)}
    failed = ports.ledger.entry(targets[4].integration_id, booking().key)
    assert failed is not None and failed.state is LedgerState.RETRY

    # the redelivery, once the other invocation is done, finds the written ones in step and writes the rest
    ports.ledger.release(ports.ledger.acquire(busy, booking().key, "another-invocation", 60, NOW),
                         "another-invocation", NOW)
    outcomes = engine.handle_change(booking(), NOW).outcomes
    assert outcomes[busy] is Outcome.WRITTEN
    assert [outcomes[targets[n].integration_id] for n in (0, 1, 3)] == [Outcome.UNCHANGED] * 3


def test_a_crash_in_one_sync_surfaces_from_the_change() -> None:
    class Crash(BaseException):
        pass

    targets = following("dr-1", 3)
    ports = MemoryPorts(integrations=MemoryIntegrations(*targets))

    def crash() -> Any:
        raise Crash

    ports.calendar(targets[1].integration_id).fail_next(crash, after_write=True)
    with pytest.raises(Crash):
        engine_over(ports, fanout.ThreadPool(4)).handle_change(booking(), NOW)
    assert all(ports.calendar(i.integration_id).events for i in targets)


def test_a_job_of_the_pool_that_fans_out_again_runs_its_jobs_itself() -> None:
    pool = fanout.ThreadPool(1)
    inner = pool.run([lambda: pool.run([lambda: 1, lambda: 2]), lambda: pool.run([lambda: 3, lambda: 4])])
    assert inner == [[1, 2], [3, 4]]


CLINICIANS = ("dr-1", "dr-2")
changes = st.lists(st.tuples(st.sampled_from(CLINICIANS), st.sampled_from(("scheduled", "scheduled", "cancelled")),
                             st.integers(8, 16)), min_size=2, max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=changes, seed=st.integers(0, 2**16))
def test_concurrent_changes_fanned_out_over_threads_leave_every_calendar_showing_the_latest(
        history: list[tuple[str, str, int]], seed: int) -> None:
    random.seed(seed)
    targets = [*following("dr-1", 3), *following("dr-2", 3)]
    ports = MemoryPorts(integrations=MemoryIntegrations(*targets), writers=WatchedWriters(Meter(0.002, jitter=True)))
    engine = engine_over(ports, fanout.ThreadPool(4))
    versions = [booking(n + 1, practitioner_id=who, status=status, start=f"2026-11-24T{hour:02d}:00:00-05:00",
                        end=f"2026-11-24T{hour:02d}:50:00-05:00") for n, (who, status, hour) in enumerate(history)]
    pending = list(versions)
    for _ in range(8):  # the invocations of each round race; SQS redelivers what failed on a busy lease
        failed: list[AppointmentChanged] = []
        lock = threading.Lock()

        def deliver(change: AppointmentChanged, failed: list[AppointmentChanged] = failed,
                    lock: threading.Lock = lock) -> None:
            try:
                engine.handle_change(change, NOW)
            except LeaseBusyError:
                with lock:
                    failed.append(change)

        threads = [threading.Thread(target=deliver, args=(change,)) for change in pending]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        pending = failed
        if not pending:
            break
    assert not pending

    latest = max(versions, key=lambda v: v.order_key)
    for connected in targets:
        want = rules.desired(connected, latest, NOW)
        held = list(ports.calendar(connected.integration_id).events.values())
        assert held == ([want] if want is not None else [])
        entry = ports.ledger.entry(connected.integration_id, latest.key)
        if entry is not None:
            assert not entry.uncertain and entry.content_hash == content_hash(want)
