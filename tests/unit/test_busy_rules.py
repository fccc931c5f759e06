"""The busy-time rules (``calsync.domain.busy``), the mass-removal guard (``calsync.domain.guard``) and the
conflict rules (``calsync.domain.conflicts``): pure, so hypothesis can throw events at them."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.domain import guard
from calsync.domain.busy import (
    LONGEST_BLOCK,
    BusyStatus,
    ExternalEvent,
    ShowAs,
    Window,
    blocks_of,
    day_span,
    not_busy,
)
from calsync.domain.conflicts import Resolution, conflict_id, overlaps, why_resolved
from calsync.domain.model import AllDayPolicy, BusySharing, Direction, Integration, Provider

NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
WINDOW = Window(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=366))


def integration(**settings: object) -> Integration:
    return Integration(integration_id="i-1", tenant_id="t", practitioner_id="dr", provider=Provider.GOOGLE,
                       calendar_id="primary", direction=Direction.TWO_WAY, **settings)


def event(start_hour: int = 9, hours: float = 1, **fields: object) -> ExternalEvent:
    start = NOW + dt.timedelta(hours=start_hour)
    return ExternalEvent(source="e-1", start=start, end=start + dt.timedelta(hours=hours), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "reason"), [
    ({"marker": "abc"}, "ours"), ({"cancelled": True}, "cancelled"), ({"declined": True}, "declined"),
    ({"show_as": ShowAs.FREE}, "free"), ({}, None), ({"show_as": ShowAs.TENTATIVE}, None)])
def test_what_is_not_busy_time(fields, reason):
    assert not_busy(event(**fields), AllDayPolicy.AS_MARKED) == reason


@pytest.mark.parametrize(("policy", "show_as", "busy"), [
    (AllDayPolicy.AS_MARKED, ShowAs.BUSY, True), (AllDayPolicy.AS_MARKED, ShowAs.FREE, False),
    (AllDayPolicy.ALWAYS, ShowAs.FREE, True), (AllDayPolicy.NEVER, ShowAs.BUSY, False)])
def test_all_day_events_follow_the_policy(policy, show_as, busy):
    start, end = day_span(dt.date(2026, 11, 26), dt.date(2026, 11, 27), "America/Chicago")
    all_day = ExternalEvent(source="d", start=start, end=end, all_day=True, start_date=dt.date(2026, 11, 26),
                            end_date=dt.date(2026, 11, 27), show_as=show_as, zone="America/Chicago")
    found = blocks_of(integration(all_day_busy=policy), "primary", all_day, WINDOW)
    assert [(b.start_date, b.end_date, b.start.hour) for b in found] == (
        [(dt.date(2026, 11, 26), dt.date(2026, 11, 27), 6)] if busy else [])


def test_titles_and_attendees_only_when_shared_and_the_id_never_tells_anything():
    seen = event(title="Oncology follow-up", attendees=("friend@example.com",))
    (private,) = blocks_of(integration(), "primary", seen, WINDOW)
    assert (private.title, private.attendees) == (None, ())
    (shared,) = blocks_of(integration(busy_sharing=BusySharing(titles=True, attendees=True)), "primary", seen,
                          WINDOW)
    assert (shared.title, shared.attendees) == ("Oncology follow-up", ("friend@example.com",))
    assert private.block_id == shared.block_id and len(private.block_id) == 32
    assert "onc" not in private.block_id and private.digest != shared.digest


def test_outside_the_window_there_is_no_busy_time():
    assert blocks_of(integration(), "primary", event(start_hour=24 * 400), WINDOW) == []


@given(hours=st.integers(1, 24 * 120), offset=st.integers(-48, 24 * 30))
def test_a_long_event_is_cut_into_consecutive_bounded_blocks_covering_it(hours, offset):
    seen = event(start_hour=offset, hours=hours)
    found = blocks_of(integration(), "primary", seen, WINDOW)
    assert all(b.end - b.start <= LONGEST_BLOCK for b in found)
    assert all(a.end == b.start for a, b in itertools.pairwise(found))
    assert len({b.block_id for b in found}) == len(found)
    if found:
        assert found[-1].end == seen.end.astimezone(dt.UTC)
        assert found[0].start == seen.start or found[0].start < WINDOW.start + LONGEST_BLOCK


def test_a_long_all_day_event_is_one_block_per_day_at_the_calendars_midnights():
    first, last = dt.date(2026, 12, 1), dt.date(2027, 2, 15)
    start, end = day_span(first, last, "Europe/Stockholm")
    trip = ExternalEvent(source="trip", start=start, end=end, all_day=True, start_date=first, end_date=last,
                         zone="Europe/Stockholm")
    found = blocks_of(integration(), "primary", trip, WINDOW)
    assert [(b.start_date, b.end_date) for b in found] == [
        (first + dt.timedelta(days=n), first + dt.timedelta(days=n + 1)) for n in range((last - first).days)]
    assert all(b.start.astimezone(dt.UTC).hour == 23 for b in found)  # Stockholm midnight in winter


def test_tentative_and_out_of_office_keep_their_status():
    statuses = [blocks_of(integration(), "primary", event(show_as=s), WINDOW)[0].status
                for s in (ShowAs.BUSY, ShowAs.TENTATIVE, ShowAs.OUT_OF_OFFICE)]
    assert statuses == [BusyStatus.BUSY, BusyStatus.TENTATIVE, BusyStatus.OUT_OF_OFFICE]


# -- the guard --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("known", "removing", "empty", "held"), [
    (10, 0, False, False), (10, 1, False, False), (10, 5, False, False), (10, 6, False, True), (4, 3, False, True),
    (2, 2, False, False), (1, 1, True, True), (0, 0, True, False)])
def test_what_the_guard_holds(known, removing, empty, held):
    assert guard.suspicious(known, removing, empty) is held


def test_a_held_removal_is_applied_when_proposed_again_after_a_while_or_confirmed():
    removals = frozenset({"a", "b", "c", "d"})
    verdict, hold = guard.judge(4, removals, False, None, NOW)
    assert verdict is guard.Verdict.HOLD and hold is not None
    assert guard.judge(4, removals, False, hold, NOW + dt.timedelta(minutes=5)) == (guard.Verdict.HOLD, hold)
    assert guard.judge(4, removals | {"e"}, False, hold, NOW + guard.CONFIRM_AFTER)[0] is guard.Verdict.APPLY
    assert guard.judge(4, frozenset({"a"}), False, hold, NOW + guard.CONFIRM_AFTER) == (guard.Verdict.APPLY, None)
    confirmed = guard.Hold(removals, NOW, confirmed=True)
    assert guard.judge(4, removals, False, confirmed, NOW)[0] is guard.Verdict.APPLY


def test_a_different_suspicious_removal_starts_a_new_hold():
    _, first = guard.judge(4, frozenset({"a", "b", "c"}), False, None, NOW)
    verdict, second = guard.judge(4, frozenset({"x", "y", "z"}), False, first, NOW + dt.timedelta(minutes=20))
    assert verdict is guard.Verdict.HOLD and second is not None and second.since == NOW + dt.timedelta(minutes=20)


# -- conflicts --------------------------------------------------------------------------------------------


def test_back_to_back_is_no_overlap_and_a_conflict_has_a_stable_name():
    nine, ten, eleven = (NOW.replace(hour=h) for h in (9, 10, 11))
    assert overlaps(nine, ten, nine.replace(minute=30), eleven)
    assert not overlaps(nine, ten, ten, eleven)
    assert conflict_id("t#apt-1", "i-1", "b" * 32) == conflict_id("t#apt-1", "i-1", "b" * 32) != conflict_id(
        "t#apt-2", "i-1", "b" * 32)


@pytest.mark.parametrize(("scheduled", "reassigned", "present", "busy_side", "why"), [
    (False, False, True, False, Resolution.APPOINTMENT_CANCELLED),
    (True, True, True, False, Resolution.APPOINTMENT_REASSIGNED),
    (True, False, False, True, Resolution.BUSY_TIME_REMOVED),
    (True, False, True, True, Resolution.BUSY_TIME_MOVED),
    (True, False, True, False, Resolution.APPOINTMENT_MOVED)])
def test_why_a_conflict_is_over(scheduled, reassigned, present, busy_side, why):
    assert why_resolved(scheduled=scheduled, reassigned=reassigned, block_present=present,
                        busy_side=busy_side) is why
