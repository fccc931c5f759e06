"""Helpers for end-to-end tests: send changes through the real bus → rule → queue → handler path."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from devstack import sample_day
from devstack.calendar_reader import SeenEvent, read_calendar
from devstack.clinicians import CalDavClinician
from devstack.lambda_runner import DrainResult
from devstack.stack import LocalStack, StackResources
from tests.conftest import current_deployment


def put_events(stack: LocalStack, resources: StackResources, entries: Sequence[dict[str, Any]]) -> None:
    events = stack.client("events")
    for start in range(0, len(entries), 10):
        batch = [{**entry, "EventBusName": resources.event_bus_name} for entry in entries[start:start + 10]]
        response = events.put_events(Entries=batch)  # type: ignore[arg-type]
        assert response["FailedEntryCount"] == 0


def drain(stack: LocalStack, resources: StackResources, batch_size: int = 10) -> DrainResult:
    """The change handler on its queue, as the deployment wires it (the template's mapping)."""
    return current_deployment().drain(batch_size=batch_size)


def deliver(stack: LocalStack, resources: StackResources, entries: Sequence[dict[str, Any]],
            batch_size: int = 10) -> DrainResult:
    put_events(stack, resources, entries)
    return drain(stack, resources, batch_size)


def calendar(clinician: CalDavClinician) -> list[SeenEvent]:
    return read_calendar(clinician.calendar_url, clinician.username, clinician.password)


def as_expected(events: list[SeenEvent]) -> set[sample_day.Expected]:
    return {sample_day.Expected(*event.local_times(sample_day.ZONE), event.summary) for event in events}


def dead_letters(stack: LocalStack, resources: StackResources) -> list[dict[str, Any]]:
    """Empties the dead-letter queue and returns its messages (body parsed, reason attribute)."""
    sqs = stack.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=resources.changes.dlq_url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            reason = message.get("MessageAttributes", {}).get("calsync_reason")
            found.append({"body": json.loads(message["Body"]),
                          "reason": reason.get("StringValue") if reason else None})
            sqs.delete_message(QueueUrl=resources.changes.dlq_url, ReceiptHandle=message["ReceiptHandle"])


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every JSON log line calsync writes while the block runs."""
    from calsync.core.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
