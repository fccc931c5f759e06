"""on_pull: SQS batches of pull jobs (two-way sync) from the pull queue.

Each record asks for one integration's calendars to be read back (``calsync.services.twoway.pull``). A
malformed job goes to the pull dead-letter queue with its reason and does not fail the batch; any other
failure (DynamoDB trouble, the bus refusing an event) is reported for that record alone
(``ReportBatchItemFailures``), so SQS redelivers just it, and after five receives moves it to the
dead-letter queue. A calendar that cannot be read is not a failure here: the pull records it and is due
again shortly.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync.aws import dead_letter
from calsync.core.observability import Metric, count, logger, metrics
from calsync.core.settings import get_settings
from calsync.services.twoway import pull

processor = BatchProcessor(event_type=EventType.SQS)


def job_of(body: str) -> str | None:
    """The integration a job names, or None when the body is not a pull job."""
    try:
        job = json.loads(body)
    except ValueError:
        return None
    integration_id = job.get("integration_id") if isinstance(job, dict) else None
    return integration_id if isinstance(integration_id, str) and 0 < len(integration_id) <= 256 else None


def record_handler(record: SQSRecord) -> None:
    logger.remove_keys(["integration_id"])
    integration_id = job_of(record.body)
    if integration_id is None:
        dead_letter.send(record.body, "not a pull job: a JSON object with integration_id is expected",
                         record.message_id, get_settings().pull_dead_letter_queue_url)
        count(Metric.PULL_JOB_REJECTED)
        logger.warning("pull job rejected", extra={"message_id": record.message_id})
        return
    logger.append_keys(integration_id=integration_id)
    pull.pull(integration_id)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
