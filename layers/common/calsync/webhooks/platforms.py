"""Booking-platform webhook routes.

* ``POST /webhooks/platforms/{platform}/{tenant}`` — platforms that sign their requests;
* ``POST /webhooks/platforms/{platform}/{tenant}/{secret}`` — platforms that cannot sign, on the tenant's
  secret URL. The secret is a path segment, so it never reaches a log: the HTTP API's access log records
  the route key, and nothing here logs a path.

The answer is whatever ``calsync.platforms.intake.receive`` decides; it never raises for bad input.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from calsync.webhooks.requests import webhook_request

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


def _receive(platform: str, tenant: str, secret: str | None) -> Response[str]:
    from calsync.platforms import intake  # on first use: the service and its dependencies load here

    reply = intake.receive(platform, tenant, webhook_request(router.current_event), secret)
    return Response(status_code=reply.status, content_type=reply.content_type, body=reply.body,
                    headers=dict(reply.headers))


@router.post("/webhooks/platforms/<platform>/<tenant>")
def signed(platform: str, tenant: str) -> Response[str]:
    return _receive(platform, tenant, None)


@router.post("/webhooks/platforms/<platform>/<tenant>/<secret>")
def secret_url(platform: str, tenant: str, secret: str) -> Response[str]:
    return _receive(platform, tenant, secret)
