"""Booking-platform webhook routes (a Powertools Router, included by ``app``).

* ``POST /webhooks/platforms/{platform}/{tenant}`` — platforms that sign their requests;
* ``POST /webhooks/platforms/{platform}/{tenant}/{secret}`` — platforms that cannot sign, on the tenant's
  secret URL. The secret is a path segment, so it never reaches a log: the HTTP API's access log records
  the route key, and nothing here logs a path.

The answer is whatever ``calsync.services.platforms.intake.receive`` decides; it never raises for bad input.
The service is imported on first use, so the function's cold start stays small for other routes.
"""

from __future__ import annotations

import base64
import binascii

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from calsync.platforms.base import WebhookRequest

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


def webhook_request(event: APIGatewayProxyEventV2) -> WebhookRequest:
    """The request's method, public URL (scheme, API host, raw path, raw query), lower-cased headers and
    raw body bytes — decoded from base64 when API Gateway encoded them, exactly as the sender signed them."""
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
    else:
        raw = body.encode("utf-8")
    context = event.request_context
    query = event.raw_query_string
    url = f"https://{context.domain_name}{event.raw_path}" + (f"?{query}" if query else "")
    headers = {str(name).lower(): str(value) for name, value in (event.headers or {}).items()}
    return WebhookRequest(method=context.http.method.upper(), url=url, headers=headers, body=raw)


def _receive(platform: str, tenant: str, secret: str | None) -> Response[str]:
    from calsync.services.platforms import intake  # on first use: the service and its dependencies load here

    reply = intake.receive(platform, tenant, webhook_request(router.current_event), secret)
    return Response(status_code=reply.status, content_type=reply.content_type, body=reply.body,
                    headers=dict(reply.headers))


@router.post("/webhooks/platforms/<platform>/<tenant>")
def signed(platform: str, tenant: str) -> Response[str]:
    return _receive(platform, tenant, None)


@router.post("/webhooks/platforms/<platform>/<tenant>/<secret>")
def secret_url(platform: str, tenant: str, secret: str) -> Response[str]:
    return _receive(platform, tenant, secret)
