"""Helpers for the reliability tests: a clinician on Radicale, appointments made by hand, a movable
clock, and readers for what a calendar and the ledger hold."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from calsync.domain.contract import AppointmentChanged, parse_detail
from calsync.domain.event import EventKey
from calsync.domain.ledger import LedgerEntry
from calsync.domain.model import PrivacySettings
from calsync.domain.privacy import render
from calsync.services import engine
from calsync.store import ledger
from devstack.calendar_reader import SeenEvent
from devstack.clinicians import CalDavClinician, connect_caldav
from devstack.stack import LocalStack
from tests.support.pipeline import calendar

ZONE = ZoneInfo("America/New_York")
PRACTICE = {"id": "main-street", "name": "Main Street Family Practice"}


@dataclass
class Clock:
    """The time every calsync call is given: tests move it instead of sleeping."""

    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@dataclass
class Ehr:
    """Appointment changes for one tenant, with increasing ``updated_at`` per appointment."""

    tenant_id: str
    clock: Clock
    versions: Counter[str] = field(default_factory=Counter)

    def change(self, appointment_id: str, hour: int, practitioner: str = "dr-okafor", status: str = "scheduled",
               day_offset: int = 2, **extra: Any) -> AppointmentChanged:
        self.versions[appointment_id] += 1
        version = self.versions[appointment_id]
        day = (self.clock.now.astimezone(ZONE) + dt.timedelta(days=day_offset)).date()
        start = dt.datetime.combine(day, dt.time(hour, 0), ZONE)
        detail = {
            "schema_version": 1, "tenant_id": self.tenant_id, "appointment_id": appointment_id,
            "updated_at": (self.clock.now + dt.timedelta(milliseconds=version)).isoformat(), "version": version,
            "status": status, "start": start.isoformat(), "end": (start + dt.timedelta(minutes=45)).isoformat(),
            "timezone": "America/New_York", "practitioner_id": practitioner, "practice": PRACTICE,
            "client": {"id": f"cl-{appointment_id}", "internal_id": f"MRN-{appointment_id}"},
            **extra,
        }
        return parse_detail(detail, now=self.clock.now)  # received on the tests' clock, which they move


def connect(stack: LocalStack, tenant_id: str, practitioner: str = "dr-okafor",
            privacy: PrivacySettings | None = None) -> CalDavClinician:
    return connect_caldav(stack, tenant_id=tenant_id, practitioner_id=practitioner,
                          privacy=privacy or PrivacySettings(show_practice_name=False))


def shown(clinician: CalDavClinician) -> list[tuple[str, str]]:
    """(title, local start HH:MM) of every event, sorted: duplicates show up as repeated pairs."""
    return sorted((event.summary, event.local_times(ZONE)[0]) for event in calendar(clinician))


def events(clinician: CalDavClinician) -> list[SeenEvent]:
    return calendar(clinician)


def entry(clinician: CalDavClinician, appointment: AppointmentChanged) -> LedgerEntry | None:
    return ledger.get(clinician.integration.integration_id,
                      appointment.key)


def uid(clinician: CalDavClinician, appointment: AppointmentChanged) -> str:
    return EventKey(clinician.integration.integration_id, appointment.tenant_id, appointment.appointment_id).uid


def title(clinician: CalDavClinician, appointment: AppointmentChanged) -> str:
    event = render(appointment, clinician.integration.privacy)
    assert event is not None
    return event.summary


def no_lease_waits(monkeypatch: Any) -> None:
    """Concurrent invocations give up on a busy lease at once (SQS would redeliver them later)."""
    monkeypatch.setattr(engine, "LEASE_WAITS_SECONDS", ())


def reset_sweeper(now: dt.datetime | None = None) -> None:
    """Leaves the sweeper nothing from earlier tests (they share the stack and move their own clocks):
    its tasks are dropped and any retry still due is retired."""
    from calsync.store import sweeps
    from calsync.store.tables import SweepTaskItem

    for item in SweepTaskItem.query(sweeps.PARTITION):
        sweeps.cancel(item.appointment_key)
    far = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(days=3650)
    while due := ledger.due(far, limit=100):
        for integration_id, appointment_key in due:
            engine.retire(integration_id, appointment_key, "test_reset", far)


def status_events_queue(stack: LocalStack, bus_name: str, tenant_id: str,
                        detail_type: str = "Integration Status Changed") -> str:
    """A queue that receives this tenant's ``detail_type`` events (from calsync) from the calsync bus."""
    import json
    import uuid

    name = f"status-{uuid.uuid4().hex[:12]}"
    queue = stack.create_queue_pair(name, f"{name}-dlq")
    bus = stack.client("events")
    bus.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps({
        "source": ["calsync"], "detail-type": [detail_type], "detail": {"tenant_id": [tenant_id]}}))
    bus.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": "q", "Arn": queue.arn}])
    return queue.url


def received(stack: LocalStack, queue_url: str) -> list[dict[str, Any]]:
    """Empties a queue; returns the events it held."""
    import json

    sqs = stack.client("sqs")
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found
