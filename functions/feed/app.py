"""feed: ``GET``/``HEAD /feeds/{file}`` on the HTTP API (payload format 2.0), where ``file`` is
``<token>.ics``. API Gateway path variables are whole segments, hence ``{file}`` and not ``{token}.ics``.

A plain handler rather than an event-handler resolver: one route does not need routing, and the cold
start stays inside the feed's import budget. Everything the response depends on is in
``calsync.feed.serve``; this module only translates API Gateway's event and response shapes.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from calsync.core.observability import logger, metrics
from calsync.feed import cache
from calsync.feed.serve import FeedRequest, FeedResponse, serve

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

cache.warm()  # the DynamoDB and S3 clients now, not on the first request


def to_request(event: dict[str, Any]) -> FeedRequest:
    http = event.get("requestContext", {}).get("http", {})
    return FeedRequest(
        method=str(http.get("method", "GET")).upper(),
        file_name=str((event.get("pathParameters") or {}).get("file", "")),
        headers={str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()},
    )


def to_result(response: FeedResponse, method: str) -> dict[str, Any]:
    body = b"" if method == "HEAD" else response.body
    return {
        "statusCode": response.status,
        "headers": response.headers,
        "body": base64.b64encode(body).decode("ascii") if response.binary else body.decode("utf-8"),
        "isBase64Encoded": response.binary,
    }


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = to_request(event)
    return to_result(serve(request), request.method)
