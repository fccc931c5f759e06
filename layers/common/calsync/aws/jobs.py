"""Work handed to another function through a queue: pull jobs (two-way sync) on the pull queue."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from calsync.core.errors import ConfigurationError
from calsync.core.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@lru_cache(maxsize=1)
def _client() -> SQSClient:
    import boto3  # lazily: only the functions that queue work need it

    return boto3.client("sqs")


def send_pull(job: dict[str, Any]) -> None:
    """Queues one pull job (JSON) on the pull queue."""
    queue_url = get_settings().pull_queue_url
    if not queue_url:
        raise ConfigurationError("CALSYNC_PULL_QUEUE_URL is not set")
    _client().send_message(QueueUrl=queue_url, MessageBody=json.dumps(job, sort_keys=True))
