"""The local Lambda runner keeps SQS's redelivery rules as template.yaml sets them: a failed message stays
invisible for the queue's visibility timeout, and after ``maxReceiveCount`` receives SQS moves it to the
dead-letter queue. So a change that meets another invocation's live lease is retried after that lease has
expired, as in AWS (360 s visibility timeout against a 60 s lease), instead of being dead-lettered within it.

Durations are divided by one factor, so the ratios are the template's while the tests take seconds.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest

from calsync.domain.contract import appointment_key
from calsync.services import engine
from calsync.store import ledger
from devstack import sample_day
from devstack.deployment import Deployment
from devstack.lambda_runner import SqsEventSource
from devstack.stack import CHANGES_QUEUE, LocalStack, scaled_seconds
from tests.conftest import ENGINE_LEASE_SECONDS, TIME_SCALE
from tests.support.pipeline import calendar, dead_letters, put_events
from tests.support.reliability import connect

PARITY_SCALE = 360  # the changes queue's 360 s visibility timeout becomes 1 s
assert CHANGES_QUEUE.max_receive_count is not None, "template.yaml gives the changes queue a redrive policy"
MAX_RECEIVE_COUNT = CHANGES_QUEUE.max_receive_count


def test_a_failing_message_is_received_max_receive_count_times_a_visibility_timeout_apart_then_dead_lettered(
        stack: LocalStack, tenant_id: str):
    # GIVEN a queue with the changes queue's settings from the template, every duration divided by 360
    visibility = scaled_seconds(CHANGES_QUEUE.visibility_timeout, PARITY_SCALE)
    assert CHANGES_QUEUE.visibility_timeout / visibility == PARITY_SCALE
    pair = stack.create_queue_pair(f"parity-{tenant_id}", f"parity-{tenant_id}-dlq", visibility_timeout=visibility,
                                   max_receive_count=CHANGES_QUEUE.max_receive_count)
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=pair.url, MessageBody="never works")
    received: list[tuple[float, int]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        received.extend((time.monotonic(), int(r["attributes"]["ApproximateReceiveCount"])) for r in event["Records"])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    # WHEN the runner drains it (it waits for messages in flight)
    started = time.monotonic()
    result = SqsEventSource(sqs, pair.url, handler).drain(max_seconds=60)

    # THEN it was handed over exactly maxReceiveCount (5) times, each a visibility timeout after the last
    assert [count for _, count in received] == list(range(1, MAX_RECEIVE_COUNT + 1))
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(received)]
    assert all(gap >= visibility * 0.95 for gap in gaps), gaps
    assert time.monotonic() - started >= (MAX_RECEIVE_COUNT - 1) * visibility * 0.95
    assert (result.failed, result.succeeded) == (CHANGES_QUEUE.max_receive_count, 0)
    # AND SQS moved it to the dead-letter queue
    dead = sqs.receive_message(QueueUrl=pair.dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [message["Body"] for message in dead] == ["never works"]


def test_a_change_that_meets_a_live_lease_is_retried_after_the_lease_not_dead_lettered_within_it(
        deployment: Deployment, tenant_id: str, monkeypatch: pytest.MonkeyPatch):
    stack, resources = deployment.stack, deployment.stack.resources
    # GIVEN the deployment's changes queue (visibility 360 s / TIME_SCALE) and a lease of 60 s / TIME_SCALE,
    # the template's ratio, held on the item by another invocation
    visibility = int(stack.client("sqs").get_queue_attributes(
        QueueUrl=resources.changes.url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"])
    lease = ENGINE_LEASE_SECONDS // TIME_SCALE
    assert visibility / lease == CHANGES_QUEUE.visibility_timeout / ENGINE_LEASE_SECONDS
    monkeypatch.setattr(engine, "LEASE_WAITS_SECONDS", ())  # a busy lease fails the delivery at once
    clinician = connect(stack, tenant_id)
    entry = sample_day.envelope(dict(json.loads(sample_day.changes(tenant_id)[0]["Detail"])))
    item = appointment_key(tenant_id, "apt-101")
    ledger.acquire(clinician.integration.integration_id, item, "another-invocation", lease)
    taken = time.monotonic()

    # WHEN the change arrives while that lease is live
    put_events(stack, resources, [{**entry, "Source": sample_day.SOURCE}])
    result = deployment.drain(max_seconds=60)

    # THEN the first delivery failed, and the second came a visibility timeout later, after the lease
    assert (result.failed, result.succeeded) == (1, 1)
    assert time.monotonic() - taken >= visibility * 0.95 > lease + 1
    # AND nothing was dead-lettered, and the calendar holds the appointment
    parked = dead_letters(stack, resources)
    assert [d for d in parked if d["body"].get("detail", {}).get("tenant_id") == tenant_id] == []
    assert len(calendar(clinician)) == 1
