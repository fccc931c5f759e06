"""availability: ``GET /tenants/{tenant_id}/practitioners/{practitioner_id}/busy?start=&end=`` on the HTTP
API, IAM-authorised (SigV4). When the clinician is busy between ``start`` and ``end`` (RFC 3339, at most 62
days apart), across all their integrations, from the stored busy time (``calsync.services.twoway.availability``).

The tenant is in the path, so the EHR's IAM policy decides which tenants a caller may ask about
(``execute-api:Invoke`` on ``.../GET/tenants/<tenant>/*``); API Gateway checks it before this runs. Answers
are JSON: 200 with ``busy`` intervals, or 400 naming the bad parameter.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from calsync.core.observability import Metric, count, logger, metrics
from calsync.services.twoway.availability import RangeError, busy_between

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

JSON = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    if status == 200:
        count(Metric.AVAILABILITY_ANSWERED)
    else:
        count(Metric.AVAILABILITY_REFUSED)
    return {"statusCode": status, "headers": JSON, "body": json.dumps(body, separators=(",", ":"))}


def _moment(value: str | None) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    path = event.get("pathParameters") or {}
    query = event.get("queryStringParameters") or {}
    tenant_id, practitioner_id = path.get("tenant_id"), path.get("practitioner_id")
    start, end = _moment(query.get("start")), _moment(query.get("end"))
    if not tenant_id or not practitioner_id:
        return _answer(400, {"error": "tenant_id and practitioner_id are required"})
    if start is None or end is None:
        return _answer(400, {"error": "start and end must be RFC 3339 date-times with an offset"})
    try:
        busy = busy_between(tenant_id, practitioner_id, start, end)
    except RangeError as problem:
        return _answer(400, {"error": str(problem)})
    return _answer(200, {"tenant_id": tenant_id, "practitioner_id": practitioner_id,
                         "start": start.astimezone(dt.UTC).isoformat(), "end": end.astimezone(dt.UTC).isoformat(),
                         "busy": [interval.as_dict() for interval in busy]})
