"""API Gateway (HTTP API, payload 2.0) requests as the webhook services see them."""

from __future__ import annotations

import base64
import binascii

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from calsync.platforms.base import WebhookRequest


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
