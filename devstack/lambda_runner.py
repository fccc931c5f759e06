"""Lambda's SQS event-source mapping, played in-process against the stack's (moto) SQS.

``sam local`` needs Docker, which is not here; the handler's contract with Lambda is small and
documented, so this module keeps it exactly: receive up to a batch of messages, hand them over in the
Lambda SQS event shape with a ``LambdaContext``, and delete the ones not listed in ``batchItemFailures``.
As in Lambda, a handler that raises (or names a message that was not in the batch) fails the whole batch.

A failed message is left alone, as Lambda leaves it: it stays invisible until the queue's own visibility
timeout has passed (360 s in template.yaml, six times the engine's 60 s lease), and after the queue's
``maxReceiveCount`` receives SQS moves it to the dead-letter queue. So a change that met another
invocation's live lease is retried after that lease has expired, not dead-lettered within it. Tests that
cannot wait minutes divide every queue duration by one factor (``LocalStack(time_scale=...)``), which
keeps the ratios.

The handler is passed in, so this module never imports calsync functions.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devstack import DevstackError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        DeleteMessageBatchRequestEntryTypeDef,
        MessageAttributeValueOutputTypeDef,
        MessageTypeDef,
    )

log = logging.getLogger("devstack.lambda")

Handler = Callable[[dict[str, Any], Any], Any]
MAX_BATCH_SIZE = 10  # SQS returns at most 10 messages per receive


@dataclass
class FakeLambdaContext:
    """The attributes of ``aws_lambda_powertools.utilities.typing.LambdaContext`` that handlers use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: float
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class BatchOutcome:
    """One invocation: the message ids that were deleted and those returned to the queue."""

    succeeded: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()

    @property
    def received(self) -> int:
        return len(self.succeeded) + len(self.failed)


@dataclass
class DrainResult:
    """Totals of :meth:`SqsEventSource.drain`; a message that failed and later succeeded counts in both."""

    invocations: int = 0
    received: int = 0
    succeeded: int = 0
    failed: int = 0


class SqsEventSource:
    """Feeds one queue to one handler, the way an SQS event-source mapping with ReportBatchItemFailures does."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler: Handler,
        *,
        batch_size: int = MAX_BATCH_SIZE,
        function_name: str = "on_appointment_change",
        memory_limit_in_mb: int = 512,
        timeout_seconds: float = 30.0,
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise DevstackError(f"batch_size must be 1-{MAX_BATCH_SIZE}")
        self.sqs = sqs
        self.queue_url = queue_url
        self._handler = handler
        self._batch_size = batch_size
        self._function_name = function_name
        self._memory = memory_limit_in_mb
        self._timeout = timeout_seconds
        self._region = region
        self._function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self.queue_arn = attributes["QueueArn"]

    def poll_once(self, wait_seconds: int = 0) -> BatchOutcome:
        """One receive and, if it brought messages, one invocation."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return BatchOutcome()
        event = {"Records": [self._record(message) for message in messages]}
        failed_ids = self._invoke(event)
        handles = {message["MessageId"]: message["ReceiptHandle"] for message in messages}
        succeeded = tuple(message_id for message_id in handles if message_id not in failed_ids)
        self._delete(handles[message_id] for message_id in succeeded)
        # the failed ones stay invisible until the queue's visibility timeout passes (nothing to do, as in Lambda)
        return BatchOutcome(succeeded=succeeded, failed=tuple(m for m in handles if m in failed_ids))

    def drain(self, *, idle_polls: int = 3, idle_sleep_seconds: float = 0.05, max_seconds: float = 60.0) -> DrainResult:
        """Polls until the queue holds nothing, visible or in flight, ``idle_polls`` times in a row; returns the
        totals. A failed message is waited for: it comes back when its visibility timeout has passed.

        Raises if the queue is still busy after ``max_seconds`` (a handler that never lets go).
        """
        result = DrainResult()
        deadline = time.monotonic() + max_seconds
        idle = 0
        while idle < idle_polls:
            if time.monotonic() > deadline:
                raise DevstackError(f"the queue was not drained after {max_seconds:.0f} s: {result}")
            outcome = self.poll_once()
            if outcome.received == 0:
                idle = idle + 1 if self.is_empty() else 0
                time.sleep(idle_sleep_seconds)
                continue
            idle = 0
            result.invocations += 1
            result.received += outcome.received
            result.succeeded += len(outcome.succeeded)
            result.failed += len(outcome.failed)
        return result

    def is_empty(self) -> bool:
        """No message waiting and none in flight (a failed one waiting out its visibility timeout counts)."""
        counts = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return counts.get("ApproximateNumberOfMessages") == "0" and counts.get(
            "ApproximateNumberOfMessagesNotVisible") == "0"

    def run(self, stop: threading.Event, *, wait_seconds: int = 1,
            on_batch: Callable[[BatchOutcome], None] | None = None) -> None:
        """Polls until ``stop`` is set (long polls of ``wait_seconds``, so it stops within about that)."""
        while not stop.is_set():
            try:
                outcome = self.poll_once(wait_seconds=wait_seconds)
            except Exception:  # the poller outlives a bad moment of the queue, as Lambda's does
                log.exception("polling %s failed; trying again", self._function_name)
                stop.wait(wait_seconds)
                continue
            if outcome.received and on_batch is not None:
                on_batch(outcome)

    # -- the Lambda side ----------------------------------------------------------------------------

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
        """One ``Records[]`` entry, field for field as Lambda builds it."""
        body = message["Body"]
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self._region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _invoke(self, event: dict[str, Any]) -> set[str]:
        """Calls the handler; returns the ids to retry (all of them if the handler raised or misreported)."""
        all_ids = {record["messageId"] for record in event["Records"]}
        context = FakeLambdaContext(
            function_name=self._function_name,
            memory_limit_in_mb=self._memory,
            invoked_function_arn=self._function_arn,
            timeout_seconds=self._timeout,
        )
        try:
            response = self._handler(event, context)
        except Exception as error:  # Lambda: the invocation failed, the whole batch comes back
            log.warning("handler raised %s; the batch of %d returns to the queue", type(error).__name__, len(all_ids))
            return all_ids
        return _failed_ids(response, all_ids)

    def _delete(self, receipt_handles: Iterable[str]) -> None:
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(receipt_handles)
        ]
        if entries:
            result = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if result.get("Failed"):
                raise DevstackError(f"SQS refused to delete {len(result['Failed'])} message(s)")


def _failed_ids(response: Any, all_ids: set[str]) -> set[str]:
    """Reads ``batchItemFailures`` as Lambda does: absent → all succeeded; an unknown id → all failed."""
    if not isinstance(response, Mapping) or not response.get("batchItemFailures"):
        return set()
    failed: set[str] = set()
    for item in response["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if identifier not in all_ids:
            log.warning("batchItemFailures names a message that is not in the batch; the whole batch fails")
            return all_ids
        failed.add(identifier)
    return failed


def _message_attribute(value: MessageAttributeValueOutputTypeDef) -> dict[str, Any]:
    """SQS's ``{"StringValue": ...}`` → Lambda's ``{"stringValue": ..., "dataType": ...}`` (binary as base64)."""
    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute
