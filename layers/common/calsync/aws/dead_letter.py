"""Poison messages: an event that can never be processed goes to the dead-letter queue with a reason
an operator can read (field names and codes only), so it never blocks or retries its batch."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING

from calsync.core.errors import ConfigurationError
from calsync.core.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_REASON = 1000


@lru_cache(maxsize=1)
def _client() -> SQSClient:
    import boto3  # lazily: only poison messages need it

    return boto3.client("sqs")


def send(body: str, reason: str, source_message_id: str, queue_url: str | None = None) -> None:
    """Copies ``body`` verbatim to the dead-letter queue (the change queue's, unless ``queue_url`` names
    another) with ``reason`` attached as attributes."""
    queue_url = queue_url or get_settings().dead_letter_queue_url
    if not queue_url:
        raise ConfigurationError("no dead-letter queue is configured")
    _client().send_message(
        QueueUrl=queue_url,
        MessageBody=body or "(empty)",
        MessageAttributes={
            "calsync_reason": {"DataType": "String", "StringValue": reason[:MAX_REASON] or "unknown"},
            "calsync_source_message_id": {"DataType": "String", "StringValue": source_message_id or "unknown"},
            "calsync_body_sha256": {"DataType": "String",
                                    "StringValue": hashlib.sha256(body.encode()).hexdigest()},
        },
    )
