"""on_appointment_change: SQS batches of ``Appointment Changed`` events from the calsync bus.

Each record is one EventBridge event. After the engine, the appointment is compared with the clinician's
busy time read back from their calendars (``Conflict Detected`` / ``Conflict Resolved``). A malformed event,
or one whose sender (account, source) may not speak for the tenant it names (``calsync.services.senders``),
goes to the dead-letter queue with its reason and does not fail the batch; any other failure is reported for
that record alone (``ReportBatchItemFailures``) so SQS redelivers just it.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync.aws import dead_letter
from calsync.core.errors import ContractError
from calsync.core.observability import Metric, count, logger, metrics
from calsync.domain.contract import parse_envelope
from calsync.services import engine, senders, warm
from calsync.services.twoway import conflicts

processor = BatchProcessor(event_type=EventType.SQS)
warm.changes()  # clients, providers and their libraries now, not on the first change

_CORRELATION_KEYS = ("tenant_id", "appointment_id", "practitioner_id")


def record_handler(record: SQSRecord) -> None:
    logger.remove_keys(list(_CORRELATION_KEYS))
    try:
        envelope = json.loads(record.body)
        appointment = parse_envelope(envelope)
        senders.check(envelope, appointment.tenant_id)  # who may speak for this tenant
    except (ValueError, RecursionError, ContractError) as error:  # RecursionError: JSON nested too deep
        reason = str(error) if isinstance(error, ContractError) else "body is not valid JSON"
        dead_letter.send(record.body, reason, record.message_id)
        count(Metric.CHANGE_REJECTED)
        logger.warning("change rejected", extra={"reason": reason, "message_id": record.message_id})
        return
    logger.append_keys(tenant_id=appointment.tenant_id, appointment_id=appointment.appointment_id,
                       practitioner_id=appointment.practitioner_id)
    result = engine.handle_change(appointment)
    if not result.stale:
        conflicts.appointment_changed(appointment)  # busy time read back from the clinician's calendars
    logger.info("change applied", extra={"stale": result.stale,
                                         "outcomes": {k: v.value for k, v in result.outcomes.items()}})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
