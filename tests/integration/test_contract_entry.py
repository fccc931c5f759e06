"""Malformed changes on the real path (bus → queue → on_appointment_change): a far-future ``updated_at``
(issue 9, item 4) and values the tightened contract refuses (item 5) go to the dead-letter queue with a
reason that names the field and quotes nothing, and the appointment goes on taking real changes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from calsync.domain.event import EventKey
from calsync.domain.model import PrivacySettings
from calsync.store import appointments
from devstack import sample_day
from devstack.clinicians import CalDavClinician, connect_caldav
from devstack.stack import LocalStack, StackResources
from tests.support.pipeline import calendar, dead_letters, deliver


@pytest.fixture
def clinician(stack: LocalStack, tenant_id: str) -> CalDavClinician:
    return connect_caldav(stack, tenant_id=tenant_id, practitioner_id=sample_day.OKAFOR,
                          privacy=PrivacySettings(show_visit_type=True, show_notes=True))


def change(tenant_id: str, appointment_id: str, updated_at: Any, version: int, **fields: Any) -> dict[str, Any]:
    start = dt.datetime.combine(sample_day.day(), dt.time(10), sample_day.ZONE)
    return {"schema_version": 1, "tenant_id": tenant_id, "appointment_id": appointment_id,
            "updated_at": updated_at, "version": version, "status": "scheduled", "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=30)).isoformat(), "timezone": "America/New_York",
            "practitioner_id": sample_day.OKAFOR, "practice": sample_day.PRACTICE, "visit_type": "Follow-up",
            **fields}


def stamp(delta: dt.timedelta = dt.timedelta(0)) -> str:
    return (dt.datetime.now(dt.UTC) + delta).isoformat()


def held(clinician: CalDavClinician, tenant_id: str, appointment_id: str) -> list[str]:
    uid = EventKey(clinician.integration.integration_id, tenant_id, appointment_id).uid
    return [event.summary for event in calendar(clinician) if event.uid == uid]


def letters_of(stack: LocalStack, resources: StackResources, tenant_id: str) -> list[dict[str, Any]]:
    return [letter for letter in dead_letters(stack, resources)
            if letter["body"].get("detail", {}).get("tenant_id") == tenant_id]


def test_a_far_future_change_is_dead_lettered_and_does_not_freeze_the_appointment(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: CalDavClinician) -> None:
    appointment_id = f"apt-{uuid.uuid4().hex[:8]}"
    booked = change(tenant_id, appointment_id, stamp(-dt.timedelta(minutes=3)), 1)
    clock_bug = change(tenant_id, appointment_id, "2099-01-01T00:00:00Z", 2, visit_type="Moved by a clock bug")
    cancelled = change(tenant_id, appointment_id, stamp(), 3, status="cancelled")
    for detail in (booked, clock_bug, cancelled):
        deliver(stack, stack_resources, [sample_day.envelope(detail)], batch_size=1)
    # the real cancellation wins: the 2099 stamp never reached the store
    stored = appointments.get(tenant_id, appointment_id)
    assert stored is not None and stored.status.value == "cancelled"
    assert held(clinician, tenant_id, appointment_id) == []
    [letter] = letters_of(stack, stack_resources, tenant_id)
    assert letter["body"]["detail"]["updated_at"] == "2099-01-01T00:00:00Z"
    assert "updated_at" in letter["reason"] and "ahead of the receiving clock" in letter["reason"]


@pytest.mark.parametrize(("field", "value"), [
    ("visit_type", "Follow\x00up\x1b[2J"),
    ("notes", "Call back\x07"),
    ("updated_at", 1795442530),
    ("timezone", "posix/America/New_York"),
    ("start", "2026-11-24T09:30:00.1234567-05:00"),
])
def test_a_change_the_contract_refuses_is_dead_lettered_naming_the_field(
        stack: LocalStack, stack_resources: StackResources, tenant_id: str, clinician: CalDavClinician,
        field: str, value: Any) -> None:
    appointment_id = f"apt-{uuid.uuid4().hex[:8]}"
    good = change(tenant_id, appointment_id, stamp(-dt.timedelta(minutes=1)), 1)
    bad = {**change(tenant_id, appointment_id, stamp(), 2), field: value}
    deliver(stack, stack_resources, [sample_day.envelope(good), sample_day.envelope(bad)], batch_size=1)
    [letter] = letters_of(stack, stack_resources, tenant_id)
    assert letter["reason"].startswith("invalid Appointment Changed event") and field in letter["reason"]
    assert str(value) not in letter["reason"]
    assert held(clinician, tenant_id, appointment_id) == ["[Main Street Family Practice] Follow-up"]


def test_a_body_nested_too_deep_to_parse_is_dead_lettered_not_retried(stack: LocalStack,
                                                                      stack_resources: StackResources) -> None:
    # json.loads raises RecursionError, not ValueError, for 100,000 nested arrays (an SQS body can hold them)
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from functions.on_appointment_change.app import record_handler

    body = "[" * 100_000
    message_id = str(uuid.uuid4())
    record_handler(SQSRecord({"messageId": message_id, "body": body, "attributes": {}, "messageAttributes": {}}))
    sqs = stack.client("sqs")
    found = []
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=stack_resources.changes.dlq_url, MaxNumberOfMessages=10,
                                           MessageAttributeNames=["All"]).get("Messages", []):
            attributes: dict[str, Any] = dict(message.get("MessageAttributes", {}))
            if attributes.get("calsync_source_message_id", {}).get("StringValue") == message_id:
                sqs.delete_message(QueueUrl=stack_resources.changes.dlq_url, ReceiptHandle=message["ReceiptHandle"])
                found.append(attributes["calsync_reason"]["StringValue"])
            else:
                sqs.change_message_visibility(QueueUrl=stack_resources.changes.dlq_url,
                                              ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        if found:
            break
    assert found == ["body is not valid JSON"]
