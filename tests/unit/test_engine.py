"""The sync engine's decisions over in-memory ports (``tests.support.memory``): no DynamoDB, no
calendar server, so every branch of a sync is exercised in milliseconds. The same engine runs over
DynamoDB Local and real calendars in ``tests/integration``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from calsync.core.errors import (
    REAUTH_REQUIRED,
    LeaseBusyError,
    ProviderAuthError,
    ProviderGoneError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from calsync.domain import retry_policy, rules
from calsync.domain.contract import AppointmentChanged
from calsync.domain.ledger import LedgerState
from calsync.domain.model import Integration, IntegrationStatus, Provider, SyncWindow
from calsync.domain.rules import Outcome
from calsync.services import engine as engine_module
from calsync.services.engine import Engine
from tests.support.appointments import appointment
from tests.support.memory import MemoryIntegrations, MemoryPorts

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
TENANT = "tenant-1"


def integration(integration_id: str = "int-a", practitioner_id: str = "dr-1", **fields: Any) -> Integration:
    return Integration(integration_id=integration_id, tenant_id=TENANT, practitioner_id=practitioner_id,
                       provider=Provider.CALDAV, calendar_id="https://cal.example/a/", **fields)


def change(version: int, **fields: Any) -> AppointmentChanged:
    minute = 2 + version
    return appointment(version=version, updated_at=f"2026-11-23T14:{minute:02d}:00Z", **fields)


@pytest.fixture
def ports() -> MemoryPorts:
    return MemoryPorts(integrations=MemoryIntegrations(integration(), integration("int-b", "dr-2")))


@pytest.fixture
def engine(ports: MemoryPorts, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr(engine_module, "LEASE_WAITS_SECONDS", ())
    return Engine(ports.sync_ports())


def held(ports: MemoryPorts, integration_id: str = "int-a") -> list[str]:
    return sorted(event.summary for event in ports.calendar(integration_id).events.values())


def entry(ports: MemoryPorts, integration_id: str = "int-a", appointment_id: str = "apt-1") -> Any:
    return ports.ledger.entry(integration_id, f"{TENANT}#{appointment_id}")


def test_a_booking_is_written_once_and_a_repeat_costs_no_call(engine: Engine, ports: MemoryPorts) -> None:
    assert engine.handle_change(change(1), NOW).outcomes == {"int-a": Outcome.WRITTEN}
    assert engine.handle_change(change(1), NOW).outcomes == {"int-a": Outcome.UNCHANGED}
    assert ports.calendar("int-a").calls == [("upsert", "apt-1")]
    assert entry(ports).state is LedgerState.SYNCED


def test_a_reschedule_rewrites_and_a_cancellation_removes(engine: Engine, ports: MemoryPorts) -> None:
    engine.handle_change(change(1), NOW)
    engine.handle_change(change(2, start="2026-11-24T11:00:00-05:00", end="2026-11-24T11:50:00-05:00"), NOW)
    event = next(iter(ports.calendar("int-a").events.values()))
    assert event.start == dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC)
    assert engine.handle_change(change(3, status="cancelled"), NOW).outcomes == {"int-a": Outcome.REMOVED}
    assert held(ports) == []
    assert entry(ports).state is LedgerState.REMOVED


def test_an_older_change_is_dropped_before_any_calendar_is_touched(engine: Engine, ports: MemoryPorts) -> None:
    engine.handle_change(change(2), NOW)
    assert engine.handle_change(change(1, status="cancelled"), NOW).stale
    assert ports.calendar("int-a").calls == [("upsert", "apt-1")]


def test_a_sync_never_writes_a_change_older_than_the_one_the_ledger_records(engine: Engine,
                                                                            ports: MemoryPorts) -> None:
    engine.handle_change(change(2), NOW)
    older = change(1, status="cancelled")
    assert engine.sync(integration(), older, NOW) is Outcome.SUPERSEDED
    assert len(held(ports)) == 1


def test_a_reassignment_leaves_the_first_calendar_for_the_second(engine: Engine, ports: MemoryPorts) -> None:
    engine.handle_change(change(1), NOW)
    moved = engine.handle_change(change(2, practitioner_id="dr-2"), NOW)
    assert moved.outcomes == {"int-a": Outcome.REMOVED, "int-b": Outcome.WRITTEN}
    assert held(ports, "int-a") == [] and len(held(ports, "int-b")) == 1


def test_an_appointment_outside_the_window_costs_no_call(ports: MemoryPorts, monkeypatch: pytest.MonkeyPatch) -> None:
    ports.integrations.by_id["int-a"] = integration(window=SyncWindow(past_days=0, future_days=1))
    engine = Engine(ports.sync_ports())
    far = change(1, start="2027-03-01T09:00:00-05:00", end="2027-03-01T10:00:00-05:00")
    assert engine.handle_change(far, NOW).outcomes == {"int-a": Outcome.UNCHANGED}
    assert ports.calendar("int-a").calls == []


def test_a_transient_failure_schedules_retries_until_the_policy_gives_up(engine: Engine, ports: MemoryPorts) -> None:
    calendar = ports.calendar("int-a")
    calendar.fail_next(lambda: ProviderUnavailableError("caldav", "http_503", 503), times=retry_policy.MAX_RETRIES + 1)
    assert engine.handle_change(change(1), NOW).outcomes == {"int-a": Outcome.RETRY}
    first = entry(ports)
    assert first.state is LedgerState.RETRY and first.next_attempt_at > NOW and first.attempts == 1
    outcomes = [engine.sync(integration(), change(1), NOW) for _ in range(retry_policy.MAX_RETRIES)]
    assert outcomes[-1] is Outcome.DEAD and set(outcomes[:-1]) == {Outcome.RETRY}
    assert entry(ports).state is LedgerState.DEAD and held(ports) == []


def test_revoked_consent_parks_the_work_and_puts_the_integration_in_error(engine: Engine, ports: MemoryPorts) -> None:
    ports.calendar("int-a").fail_next(lambda: ProviderAuthError("google", REAUTH_REQUIRED, 401))
    assert engine.handle_change(change(1), NOW).outcomes == {"int-a": Outcome.PARKED}
    assert ports.health.transitions == [("int-a", IntegrationStatus.ERROR, REAUTH_REQUIRED)]
    assert engine.handle_change(change(2), NOW).outcomes == {"int-a": Outcome.PARKED}
    assert ports.calendar("int-a").calls == [("upsert", "apt-1")]  # nothing more is tried while in error


def test_a_vanished_calendar_is_reported_as_gone(engine: Engine, ports: MemoryPorts) -> None:
    ports.calendar("int-a").fail_next(lambda: ProviderGoneError("caldav", "calendar_missing", 404))
    engine.handle_change(change(1), NOW)
    assert ports.health.transitions == [("int-a", IntegrationStatus.ERROR, rules.CALENDAR_GONE)]


def test_writes_refused_again_and_again_put_the_integration_in_error(engine: Engine, ports: MemoryPorts) -> None:
    calendar = ports.calendar("int-a")
    calendar.fail_next(lambda: ProviderRejectedError("caldav", "http_400", 400), times=rules.PERSISTENT_REJECTIONS)
    for n in range(rules.PERSISTENT_REJECTIONS):
        outcome = engine.handle_change(change(1, appointment_id=f"apt-{n}"), NOW).outcomes["int-a"]
        assert outcome is Outcome.DEAD
    assert ports.health.transitions == [("int-a", IntegrationStatus.ERROR, rules.PERSISTENT_REJECTION)]


def test_a_write_whose_answer_was_lost_is_repeated_idempotently(engine: Engine, ports: MemoryPorts) -> None:
    ports.calendar("int-a").fail_next(lambda: ProviderUnavailableError("caldav", "timeout"), after_write=True)
    assert engine.handle_change(change(1), NOW).outcomes == {"int-a": Outcome.RETRY}
    assert engine.sync(integration(), change(1), NOW) is Outcome.WRITTEN
    assert len(held(ports)) == 1  # the same key: one event, not two


def test_a_sync_cut_off_by_an_unexpected_failure_is_uncertain_and_deleted_by_key(engine: Engine,
                                                                                ports: MemoryPorts) -> None:
    class Crash(RuntimeError):
        pass

    def crash() -> Any:
        raise Crash

    ports.calendar("int-a").fail_next(crash, after_write=True)
    with pytest.raises(Crash):
        engine.handle_change(change(1), NOW)
    assert entry(ports).uncertain and entry(ports).external_id is None
    assert engine.handle_change(change(2, status="cancelled"), NOW).outcomes == {"int-a": Outcome.REMOVED}
    assert held(ports) == []  # removed by its deterministic key although the ledger never recorded it


def test_an_abandoned_lease_makes_the_next_sync_assume_nothing(engine: Engine, ports: MemoryPorts) -> None:
    ports.ledger.acquire("int-a", f"{TENANT}#apt-1", "a-process-that-died", 1, NOW - dt.timedelta(minutes=5))
    assert engine.handle_change(change(1, status="cancelled"), NOW).outcomes == {"int-a": Outcome.REMOVED}
    assert ports.calendar("int-a").calls == [("delete", "apt-1")]


def test_a_live_lease_makes_the_change_wait_and_then_fail_for_redelivery(engine: Engine, ports: MemoryPorts) -> None:
    ports.ledger.acquire("int-a", f"{TENANT}#apt-1", "someone-else", 60, NOW)
    with pytest.raises(LeaseBusyError):
        engine.handle_change(change(1), NOW)
    assert ports.calendar("int-a").calls == []


def test_the_first_write_activates_a_pending_integration(engine: Engine, ports: MemoryPorts) -> None:
    engine.handle_change(change(1), NOW)
    assert ports.health.transitions == [("int-a", IntegrationStatus.ACTIVE, None)]
    assert [synced for synced, _ in ports.integrations.synced] == ["int-a"]


def test_a_probe_writes_for_an_integration_in_error_and_recovers_it(ports: MemoryPorts) -> None:
    broken = integration(status=IntegrationStatus.ERROR, status_reason=REAUTH_REQUIRED)
    ports.integrations.by_id["int-a"] = broken
    engine = Engine(ports.sync_ports())
    assert engine.sync(broken, change(1), NOW) is Outcome.PARKED
    assert engine.sync(broken, change(1), NOW, probe=True) is Outcome.WRITTEN
    assert ports.health.transitions == [("int-a", IntegrationStatus.ACTIVE, None)]


def test_a_paused_integration_is_not_written_and_a_retry_falling_due_is_parked(engine: Engine,
                                                                              ports: MemoryPorts) -> None:
    ports.calendar("int-a").fail_next(lambda: ProviderUnavailableError("caldav", "http_503", 503))
    engine.handle_change(change(1), NOW)
    paused = integration(status=IntegrationStatus.PAUSED)
    assert engine.sync(paused, change(1), NOW) is Outcome.PARKED
    assert entry(ports).state is LedgerState.PARKED and entry(ports).last_error == "paused"
    assert engine.sync(paused, change(2), NOW) is Outcome.UNCHANGED  # resume replays the parked item
    assert entry(ports).state is LedgerState.PARKED and held(ports) == []
