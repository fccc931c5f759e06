"""``rules.drift``: the gap sweep's question "is this calendar behind the latest snapshot?", answered
with the same rules ``engine.sync`` applies, and left to the other sweeps where they own the item."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.domain import rules
from calsync.domain.ledger import LedgerEntry, LedgerState
from calsync.domain.model import ClientDisplay, Integration, IntegrationStatus, PrivacySettings, Provider
from calsync.domain.privacy import content_hash, render
from tests.support.appointments import appointment

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
BOOKED = appointment()
CANCELLED = appointment(status="cancelled", version=2)


def integration(**overrides: object) -> Integration:
    base = Integration(integration_id="int-1", tenant_id="tenant-1", practitioner_id="dr-1",
                       provider=Provider.CALDAV, calendar_id="https://dav.example/cal/",
                       status=IntegrationStatus.ACTIVE)
    return base.model_copy(update=overrides)


def synced(**overrides: object) -> LedgerEntry:
    entry = LedgerEntry("int-1", "tenant-1#apt-1", external_id="https://dav.example/cal/x.ics", etag='"1"',
                        synced_order_key=BOOKED.order_key, state=LedgerState.SYNCED,
                        content_hash=content_hash(render(BOOKED, integration().privacy)))
    for name, value in overrides.items():
        setattr(entry, name, value)
    return entry


def test_a_calendar_that_shows_the_snapshot_is_in_step() -> None:
    assert rules.drift(integration(), BOOKED, synced(), NOW) is None


def test_nothing_recorded_for_a_wanted_appointment_is_a_gap() -> None:
    assert rules.drift(integration(), BOOKED, None, NOW) == "never_synced"
    assert rules.drift(integration(), BOOKED, LedgerEntry("int-1", "tenant-1#apt-1"), NOW) == "never_synced"


def test_nothing_recorded_for_an_unwanted_appointment_is_in_step() -> None:
    assert rules.drift(integration(), CANCELLED, None, NOW) is None
    assert rules.drift(integration(practitioner_id="dr-2"), BOOKED, None, NOW) is None


def test_a_newer_snapshot_the_calendar_does_not_show_is_a_gap() -> None:
    assert rules.drift(integration(), CANCELLED, synced(), NOW) == "content"
    moved = appointment(version=3, start="2026-11-24T11:30:00-05:00", end="2026-11-24T12:00:00-05:00")
    assert rules.drift(integration(), moved, synced(), NOW) == "content"


def test_settings_that_render_differently_are_a_gap() -> None:
    stricter = integration(privacy=PrivacySettings(client_display=ClientDisplay.NONE))
    assert rules.drift(stricter, BOOKED, synced(), NOW) == "content"


def test_an_attempt_cut_off_after_it_may_have_written_is_a_gap_even_when_nothing_is_wanted() -> None:
    assert rules.drift(integration(), BOOKED, synced(uncertain=True), NOW) == "interrupted"
    crashed = LedgerEntry("int-1", "tenant-1#apt-1", uncertain=True)
    assert rules.drift(integration(), CANCELLED, crashed, NOW) == "interrupted"


@pytest.mark.parametrize("state", [LedgerState.RETRY, LedgerState.PARKED, LedgerState.DEAD])
def test_items_owned_by_the_retry_and_replay_sweeps_are_left_to_them(state: LedgerState) -> None:
    assert rules.drift(integration(), CANCELLED, synced(state=state), NOW) is None


def test_an_item_being_worked_on_is_left_alone() -> None:
    assert rules.drift(integration(), CANCELLED, synced(leased=True), NOW) is None


@pytest.mark.parametrize("status", [IntegrationStatus.PAUSED, IntegrationStatus.DISCONNECTED])
def test_integrations_that_take_no_pushes_have_no_gap(status: IntegrationStatus) -> None:
    assert rules.drift(integration(status=status), CANCELLED, synced(), NOW) is None


def test_an_integration_in_error_still_gets_its_gaps_found_so_they_are_parked_for_the_replay() -> None:
    assert rules.drift(integration(status=IntegrationStatus.ERROR), CANCELLED, synced(), NOW) == "content"


def test_a_ledger_ahead_of_the_snapshot_is_never_written_backwards() -> None:
    ahead = synced(synced_order_key=appointment(version=9).order_key)
    assert rules.drift(integration(), CANCELLED, ahead, NOW) is None


def test_a_removed_event_stays_removed() -> None:
    removed = synced(state=LedgerState.REMOVED, external_id=None, etag=None, content_hash=content_hash(None),
                     synced_order_key=CANCELLED.order_key)
    assert rules.drift(integration(), CANCELLED, removed, NOW) is None


def test_an_appointment_that_left_the_window_is_a_gap_while_the_calendar_still_shows_it() -> None:
    later = NOW + dt.timedelta(days=400)
    assert rules.drift(integration(), BOOKED, synced(), later) == "content"
