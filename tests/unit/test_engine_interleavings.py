"""Concurrent changes of one appointment, interleaved port call by port call in every order hypothesis
can find (``tests.support.interleave``), over the in-memory ports. After the handlers finish (and SQS
redelivers what failed on a busy lease) every calendar must already be right — without the sweeper: the
gap sweep repairs drift, it must never be what makes a race come out right."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.core.errors import LeaseBusyError
from calsync.domain import rules
from calsync.domain.contract import AppointmentChanged
from calsync.domain.ledger import LedgerState
from calsync.domain.model import Integration, Provider
from calsync.domain.privacy import content_hash
from calsync.services import engine as engine_module
from calsync.services.engine import Engine
from calsync.services.ports import SyncPorts
from tests.support.appointments import appointment
from tests.support.interleave import Interleaving, gated
from tests.support.memory import MemoryIntegrations, MemoryPorts

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
CLINICIANS = ("dr-1", "dr-2", "dr-3")
REDELIVERIES = 6


def integration(practitioner_id: str) -> Integration:
    return Integration(integration_id=f"int-{practitioner_id}", tenant_id="tenant-1",
                       practitioner_id=practitioner_id, provider=Provider.CALDAV,
                       calendar_id=f"https://cal.example/{practitioner_id}/")


def version(n: int, practitioner_id: str, status: str, hour: int) -> AppointmentChanged:
    return appointment(version=n, updated_at=f"2026-11-23T14:{n:02d}:00Z", practitioner_id=practitioner_id,
                       status=status, start=f"2026-11-24T{hour:02d}:00:00-05:00",
                       end=f"2026-11-24T{hour:02d}:50:00-05:00")


changes = st.lists(st.tuples(st.sampled_from(CLINICIANS), st.sampled_from(("scheduled", "scheduled", "cancelled")),
                             st.integers(8, 16)), min_size=2, max_size=4)


def assert_every_calendar_shows_the_latest(ports: MemoryPorts, latest: AppointmentChanged) -> None:
    for practitioner_id in CLINICIANS:
        connected = ports.integrations.by_id[f"int-{practitioner_id}"]
        held = list(ports.calendar(connected.integration_id).events.values())
        want = rules.desired(connected, latest, NOW)
        assert held == ([want] if want is not None else []), (
            f"{practitioner_id}'s calendar holds {[e.summary for e in held]} for a snapshot of "
            f"{latest.practitioner_id} ({latest.status.value})")
        entry = ports.ledger.entry(connected.integration_id, latest.key)
        if entry is not None:
            assert not entry.uncertain and entry.state in (LedgerState.SYNCED, LedgerState.REMOVED)
            assert entry.content_hash == content_hash(want)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=changes, data=st.data())
def test_concurrent_changes_leave_every_calendar_showing_the_latest_snapshot(
        history: list[tuple[str, str, int]], data: st.DataObject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "LEASE_WAITS_SECONDS", ())  # a busy lease fails the delivery at once
    # (the same for every example: the fixture not being reset between them changes nothing)
    ports = MemoryPorts(integrations=MemoryIntegrations(*(integration(p) for p in CLINICIANS)))
    versions = [version(n + 1, *change) for n, change in enumerate(history)]
    interleaving = Interleaving(lambda n: data.draw(st.integers(0, n - 1)))
    engine = Engine(SyncPorts(
        appointments=gated(ports.appointments, interleaving), ledger=gated(ports.ledger, interleaving),
        integrations=gated(ports.integrations, interleaving),
        writers=gated(ports.writers, interleaving, wrap_results=True),
        health=ports.health, audit=ports.audit, lease_seconds=ports.lease_seconds, policies=ports.policies))

    failed = interleaving.run([functools.partial(engine.handle_change, v, NOW) for v in versions])
    assert all(error is None or isinstance(error, LeaseBusyError) for error in failed), failed
    pending = [v for v, error in zip(versions, failed, strict=True) if error is not None]
    for _ in range(REDELIVERIES):  # SQS redelivers what failed, later, one at a time
        pending = [v for v in pending if _fails(engine, v)]
    assert not pending

    latest = max(versions, key=lambda v: v.order_key)
    assert ports.appointments.snapshots[latest.key] == latest
    assert_every_calendar_shows_the_latest(ports, latest)


def _fails(engine: Engine, change: AppointmentChanged) -> bool:
    try:
        engine.handle_change(change, NOW)
    except LeaseBusyError:
        return True
    return False


def test_the_reported_race_a_reassignment_overtaking_the_first_booking(monkeypatch: pytest.MonkeyPatch) -> None:
    """v1 (booked with dr-1) stores its snapshot and finds dr-1's calendar; before it takes dr-1's ledger
    lease, v2 (moved to dr-2) runs from start to end; then v1 goes on. dr-1 must not keep the event."""
    monkeypatch.setattr(engine_module, "LEASE_WAITS_SECONDS", ())
    ports = MemoryPorts(integrations=MemoryIntegrations(*(integration(p) for p in CLINICIANS)))
    v1, v2 = version(1, "dr-1", "scheduled", 9), version(2, "dr-2", "scheduled", 9)
    order = iter([0, 0, 0,                  # v1 starts, stores its snapshot, reads dr-1's subscriptions
                  1, 1, 1, 1, 1, 1, 1, 1])  # v2 runs to its end
    interleaving = Interleaving(lambda n: min(next(order, 0), n - 1))
    engine = Engine(SyncPorts(
        appointments=gated(ports.appointments, interleaving), ledger=gated(ports.ledger, interleaving),
        integrations=gated(ports.integrations, interleaving),
        writers=gated(ports.writers, interleaving, wrap_results=True),
        health=ports.health, audit=ports.audit, lease_seconds=ports.lease_seconds, policies=ports.policies))
    failed: list[Any] = interleaving.run([lambda: engine.handle_change(v1, NOW), lambda: engine.handle_change(v2, NOW)])
    assert failed == [None, None]
    assert_every_calendar_shows_the_latest(ports, v2)
