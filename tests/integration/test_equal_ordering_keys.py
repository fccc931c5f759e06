"""Changes with the same ``updated_at`` and ``version`` but different times (issue 9, item 2), through the
real handler: delivered one after the other in either order over bus → queue → on_appointment_change, and
handed to concurrent invocations at once. Radicale's calendar, the stored snapshot and the contract's
order must name the same winner every time.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from calsync.core.errors import LeaseBusyError
from calsync.domain.contract import AppointmentChanged, parse_detail
from calsync.domain.event import EventKey
from calsync.domain.model import PrivacySettings
from calsync.store import appointments
from devstack import sample_day
from devstack.clinicians import CalDavClinician, connect_caldav
from devstack.stack import ACCOUNT_ID, LocalStack, StackResources
from functions.on_appointment_change.app import record_handler
from tests.support.pipeline import calendar, dead_letters, deliver

TRIALS = 4


@pytest.fixture
def clinician(stack: LocalStack, tenant_id: str) -> CalDavClinician:
    return connect_caldav(stack, tenant_id=tenant_id, practitioner_id=sample_day.OKAFOR,
                          privacy=PrivacySettings(show_notes=True))


def variants(tenant_id: str, appointment_id: str) -> list[dict[str, Any]]:
    """Two changes the EHR made within one second: the same stamp and version, different times."""
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0).isoformat()
    day = sample_day.day()
    made = []
    for hour in (9, 15):
        start = dt.datetime.combine(day, dt.time(hour), sample_day.ZONE)
        made.append({"schema_version": 1, "tenant_id": tenant_id, "appointment_id": appointment_id,
                     "updated_at": stamp, "version": 2, "status": "scheduled", "start": start.isoformat(),
                     "end": (start + dt.timedelta(minutes=45)).isoformat(), "timezone": "America/New_York",
                     "practitioner_id": sample_day.OKAFOR, "practice": sample_day.PRACTICE,
                     "notes": f"booked for {hour}:00"})
    return made


def winner(details: list[dict[str, Any]]) -> AppointmentChanged:
    return max((parse_detail(d) for d in details), key=lambda change: change.order_key)


def shown(clinician: CalDavClinician, tenant_id: str, appointment_id: str) -> list[dt.datetime | dt.date]:
    """The start of every event Radicale holds for this appointment."""
    uid = EventKey(clinician.integration.integration_id, tenant_id, appointment_id).uid
    return [event.start for event in calendar(clinician) if event.uid == uid]


def test_equal_keys_converge_through_the_queue_in_either_order(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: CalDavClinician) -> None:
    for order in ((0, 1), (1, 0)):
        appointment_id = f"apt-{uuid.uuid4().hex[:8]}"
        details = variants(tenant_id, appointment_id)
        for index in order:  # one after the other, each through bus, queue and handler
            deliver(stack, stack_resources, [sample_day.envelope(details[index])], batch_size=1)
        best = winner(details)
        assert appointments.get(tenant_id, appointment_id) == best, f"stored snapshot after order {order}"
        assert shown(clinician, tenant_id, appointment_id) == [best.start], f"calendar after order {order}"
    letters = dead_letters(stack, stack_resources)
    assert not [d for d in letters if d["body"].get("detail", {}).get("tenant_id") == tenant_id]


def _record(detail: dict[str, Any]) -> SQSRecord:
    body = {"detail-type": "Appointment Changed", "source": sample_day.SOURCE, "account": ACCOUNT_ID,
            "detail": detail}
    return SQSRecord({"messageId": str(uuid.uuid4()), "body": json.dumps(body), "attributes": {},
                      "messageAttributes": {}, "eventSource": "aws:sqs"})


def test_equal_keys_converge_under_concurrent_invocations(tenant_id: str, clinician: CalDavClinician) -> None:
    for trial in range(TRIALS):
        appointment_id = f"apt-{trial}-{uuid.uuid4().hex[:8]}"
        details = variants(tenant_id, appointment_id)
        order = [details[(trial + n) % 2] for n in range(4)]  # A B A B, then B A B A
        start = threading.Barrier(len(order))
        redeliver: list[dict[str, Any]] = []

        def invoke(detail: dict[str, Any], barrier: threading.Barrier = start,
                   again: list[dict[str, Any]] = redeliver) -> None:
            barrier.wait()
            try:
                record_handler(_record(detail))
            except LeaseBusyError:  # reported as a batch item failure: SQS delivers it again
                again.append(detail)

        workers = [threading.Thread(target=invoke, args=(detail,)) for detail in order]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        for detail in redeliver:
            record_handler(_record(detail))
        best = winner(details)
        assert appointments.get(tenant_id, appointment_id) == best, f"stored snapshot, trial {trial}"
        assert shown(clinician, tenant_id, appointment_id) == [best.start], f"calendar, trial {trial}"
