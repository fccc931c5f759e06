"""on_webhook: ``POST /webhooks/...`` on the HTTP API (payload format 2.0).

A thin router: Powertools' ``APIGatewayHttpResolver`` with one Router module per family of webhooks, each
a module beside this one (:data:`ROUTERS`): ``calendar_webhooks`` serves calendar providers' push
notifications (``/webhooks/google``, ``/webhooks/microsoft``), ``platform_webhooks`` booking platforms
(``/webhooks/platforms/...``). A path no Router knows gets 404 with a small JSON body, without raising (an
error would let anyone on the internet trip the function's error alarm) and without touching any AWS
service — never a fake 200, which would tell a sender its notification was handled.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from calsync.core.observability import Metric, count_by, logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

ROUTERS = ("calendar_webhooks", "platform_webhooks")
"""The Router modules beside this file, one per family of webhooks."""
NOT_FOUND_BODY = '{"message":"no webhook is configured at this address"}'


def _router(name: str) -> Any:
    """A Router module beside this one: ``functions.on_webhook.<name>`` in the repository (tests, the local
    deployment), ``<name>`` in Lambda, where the function's directory is the import root."""
    return importlib.import_module(f"{__package__}.{name}" if __package__ else name).router


app = APIGatewayHttpResolver()
for _name in ROUTERS:
    app.include_router(_router(_name))


@app.not_found
def not_found(error: Exception) -> Response[str]:
    count_by(Metric.WEBHOOK_REJECTED, "reason", "not_found")
    return Response(status_code=404, content_type="application/json", body=NOT_FOUND_BODY)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
