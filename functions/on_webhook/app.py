"""on_webhook: ``POST /webhooks/...`` on the HTTP API (payload format 2.0).

A thin router: Powertools' ``APIGatewayHttpResolver`` with one Router per family of webhooks
(``calsync.webhooks``). Booking platforms are served today (``calsync.webhooks.platforms``); calendar
providers' push notifications will be a Router of their own. A path no Router knows gets 404 — never a
fake 200, which would tell a sender its notification was handled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from calsync.observability import Metric, count_by, logger, metrics
from calsync.webhooks import platforms

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

app = APIGatewayHttpResolver()
app.include_router(platforms.router)


@app.not_found
def not_found(error: Exception) -> Response[str]:
    count_by(Metric.WEBHOOK_REJECTED, "reason", "not_found")
    return Response(status_code=404, content_type="application/json", body='{"error":"not_found"}')


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
