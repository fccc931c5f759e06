"""Retention of what was pushed: a visit past the practice policy's ``past_busy_after_days`` shows "Busy"
only, decided by the same rendering rule everywhere (``policy.restrict`` → ``privacy.render`` →
``rules.desired``), so the engine, the gap sweep and the policy-boundaries job agree."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from calsync.domain import rules
from calsync.domain.ledger import LedgerEntry, LedgerState
from calsync.domain.model import ClientDisplay, Integration, PrivacySettings, Provider
from calsync.domain.policy import PrivacyPolicy
from calsync.domain.privacy import content_hash, render
from calsync.domain.rules import Outcome
from calsync.services import engine as engine_module
from calsync.services.engine import Engine
from tests.support import appointments as f
from tests.support.memory import MemoryIntegrations, MemoryPorts

END = dt.datetime(2026, 11, 24, 15, 20, tzinfo=dt.UTC)  # the fixture appointment's end
DETAILED = {"client_display": ClientDisplay.FULL_NAME, "show_visit_type": True, "show_notes": True}


BUSY_TITLE = "Busy"
SETTINGS = PrivacySettings(**DETAILED)


def _policy(days: int | None) -> PrivacyPolicy:
    return PrivacyPolicy(past_busy_after_days=days)


def rendered(appointment: object, days: int | None, now: dt.datetime) -> object:
    return render(appointment, SETTINGS, policy=_policy(days), now=now)  # type: ignore[arg-type]


@pytest.mark.parametrize(("days", "after", "busy"), [
    (None, dt.timedelta(days=3650), False),
    (7, dt.timedelta(days=7) - dt.timedelta(seconds=1), False),
    (7, dt.timedelta(days=7), True),
    (0, dt.timedelta(0), True),
])
def test_a_visit_is_busy_only_from_the_day_the_policy_says(days: int | None, after: dt.timedelta,
                                                           busy: bool) -> None:
    event = rendered(f.appointment(), days, END + after)
    assert event is not None
    assert (event.summary == BUSY_TITLE) == busy  # type: ignore[attr-defined]


def test_busy_only_keeps_the_time_and_nothing_of_the_patient() -> None:
    event = rendered(f.appointment(), 1, END + dt.timedelta(days=2))
    assert event is not None
    text = "\n".join(str(v) for v in dataclasses.asdict(event).values())  # type: ignore[call-overload]
    for detail in (f.FIRST, f.LAST, f.INTERNAL, f.NOTES, f.VISIT, f.LOCATION, f.PRACTICE, f.DEEP_LINK, f.TELEHEALTH):
        assert detail not in text
    assert (event.start, event.end, event.disclosed, event.private) == (  # type: ignore[attr-defined]
        f.appointment().start, END, frozenset({"time"}), True)


def test_a_cancelled_visit_stays_removed() -> None:
    assert rendered(f.appointment(status="cancelled"), 1, END + dt.timedelta(days=30)) is None


def _integration() -> Integration:
    return Integration(integration_id="int-a", tenant_id="tenant-1", practitioner_id="dr-1", provider=Provider.CALDAV,
                       calendar_id="https://cal.example/a/", privacy=SETTINGS)


def test_the_gap_rule_sees_a_visit_past_the_policy_as_behind_and_the_engine_rewrites_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "LEASE_WAITS_SECONDS", ())
    integration = _integration()
    ports = MemoryPorts(integrations=MemoryIntegrations(integration))
    policy = ports.policies.by_tenant["tenant-1"] = _policy(7)
    engine = Engine(ports.sync_ports())
    appointment = f.appointment()
    during = END - dt.timedelta(days=1)
    assert engine.handle_change(appointment, during).outcomes == {"int-a": Outcome.WRITTEN}
    entry = ports.ledger.entry("int-a", appointment.key)
    assert entry is not None and rules.drift(integration, appointment, entry, during, policy) is None

    later = END + dt.timedelta(days=8)
    assert rules.drift(integration, appointment, entry, later, policy) == "content"
    assert engine.sync(integration, appointment, later) is Outcome.WRITTEN
    (event,) = ports.calendar("int-a").events.values()
    assert event.summary == BUSY_TITLE
    assert ports.audit.records[-1].fields == ("time",)
    after = ports.ledger.entry("int-a", appointment.key)
    assert after is not None and rules.drift(integration, appointment, after, later, policy) is None  # settled


def test_without_a_policy_nothing_changes_with_time() -> None:
    integration = _integration()
    appointment = f.appointment()
    shown = rules.desired(integration, appointment, END - dt.timedelta(days=1), _policy(None))
    entry = LedgerEntry("int-a", appointment.key, external_id="x", state=LedgerState.SYNCED,
                        synced_order_key=appointment.order_key, content_hash=content_hash(shown))
    assert rules.drift(integration, appointment, entry, END + dt.timedelta(days=20), _policy(None)) is None
