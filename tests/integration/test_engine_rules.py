"""Engine rules that decide which calendars show an appointment: filters, window, reassignment,
pause. Driven through calsync.services.engine against DynamoDB Local and Radicale."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from calsync.domain.contract import AppointmentChanged, parse_detail
from calsync.domain.ledger import LedgerState
from calsync.domain.model import IntegrationStatus, PrivacySettings
from calsync.services import engine
from calsync.store import integrations, ledger
from devstack import sample_day
from devstack.clinicians import connect_caldav
from devstack.stack import LocalStack
from tests.support.pipeline import calendar


def change(tenant_id: str, index: int = 0, **overrides: Any) -> AppointmentChanged:
    detail = json.loads(sample_day.changes(tenant_id)[index]["Detail"])
    detail.update(overrides)
    return parse_detail(detail)


def later(appointment: AppointmentChanged, **overrides: Any) -> AppointmentChanged:
    detail = appointment.model_dump(mode="json")
    detail.update(version=(appointment.version or 0) + 1, **overrides)
    return parse_detail(detail)


def test_practice_filter_keeps_other_practices_out(stack: LocalStack, tenant_id: str) -> None:
    clinician = connect_caldav(stack, tenant_id=tenant_id, practitioner_id=sample_day.OKAFOR,
                               privacy=PrivacySettings(), practice_filter=frozenset({"other-practice"}))
    result = engine.handle_change(change(tenant_id))
    assert calendar(clinician) == []
    assert set(result.outcomes.values()) == {engine.Outcome.UNCHANGED}


def test_outside_the_window_nothing_is_started_and_a_synced_event_leaves(
        stack: LocalStack, tenant_id: str) -> None:
    clinician = connect_caldav(stack, tenant_id=tenant_id, practitioner_id=sample_day.OKAFOR,
                               privacy=PrivacySettings())
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    engine.handle_change(change(tenant_id, start=far.isoformat(), end=(far + dt.timedelta(hours=1)).isoformat()))
    assert calendar(clinician) == []  # beyond the default 365-day window: never started
    near = change(tenant_id, 1)
    engine.handle_change(near)
    assert len(calendar(clinician)) == 1
    # moved beyond the window after it was synced: the calendar must not keep the old time, and the
    # window decides what a calendar holds, so the event leaves
    moved = later(near, start=far.isoformat(), end=(far + dt.timedelta(hours=1)).isoformat())
    engine.handle_change(moved)
    assert calendar(clinician) == []


def test_reassignment_moves_the_event(stack: LocalStack, tenant_id: str) -> None:
    okafor = connect_caldav(stack, tenant_id=tenant_id, practitioner_id=sample_day.OKAFOR, privacy=PrivacySettings())
    lindqvist = connect_caldav(stack, tenant_id=tenant_id, practitioner_id=sample_day.LINDQVIST,
                               privacy=PrivacySettings())
    first = change(tenant_id)
    engine.handle_change(first)
    assert len(calendar(okafor)) == 1
    engine.handle_change(later(first, practitioner_id=sample_day.LINDQVIST))
    assert calendar(okafor) == []
    assert len(calendar(lindqvist)) == 1
    item = ledger.get(okafor.integration.integration_id, f"{tenant_id}#apt-101")
    assert item is not None and item.state is LedgerState.REMOVED and item.external_id is None


def test_paused_integration_gets_no_pushes(stack: LocalStack, tenant_id: str) -> None:
    clinician = connect_caldav(stack, tenant_id=tenant_id, practitioner_id=sample_day.OKAFOR,
                               privacy=PrivacySettings())
    integrations.put(clinician.integration.model_copy(update={"status": IntegrationStatus.PAUSED}))
    engine.handle_change(change(tenant_id))
    assert calendar(clinician) == []


def test_first_success_activates_and_stamps_last_synced(stack: LocalStack, tenant_id: str) -> None:
    clinician = connect_caldav(stack, tenant_id=tenant_id, practitioner_id=sample_day.OKAFOR,
                               privacy=PrivacySettings())
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    engine.handle_change(change(tenant_id))
    stored = integrations.get(clinician.integration.integration_id)
    assert stored is not None
    assert stored.status is IntegrationStatus.ACTIVE
    assert stored.last_synced_at is not None and stored.last_synced_at >= before
