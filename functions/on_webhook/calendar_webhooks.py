"""Calendar providers' push notifications (a Powertools Router, included by ``app``).

* ``POST /webhooks/google`` — Google Calendar channel notifications (everything is in the headers);
* ``POST /webhooks/microsoft?watch=<id>`` — Graph change and lifecycle notifications, and Graph's
  validation handshake (``?validationToken=``), echoed as plain text.

What each verdict of ``calsync.services.twoway.webhooks`` means over HTTP is :data:`ANSWERS`: a verified
notification is acknowledged at once (202) and its pull runs elsewhere; an unknown or expired channel gets
404 and a forged one 401, and nothing changes. The service is imported on first use, so other routes of the
function do not pay for it.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]

ANSWERS: dict[str, tuple[int, str]] = {
    "accepted": (202, '{"status":"accepted"}'),
    "acknowledged": (200, '{"status":"acknowledged"}'),
    "malformed": (400, '{"error":"not_a_notification"}'),
    "unknown": (404, '{"error":"unknown_channel"}'),
    "forged": (401, '{"error":"not_verified"}'),
}
"""Verdict → (status, JSON body). Bodies never echo anything the sender sent."""


def _answer(verdict: str) -> Response[str]:
    status, body = ANSWERS[verdict]
    return Response(status_code=status, content_type="application/json", body=body)


def _body() -> str:
    event = router.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return ""
    return body


@router.post("/webhooks/google")
def google() -> Response[str]:
    from calsync.services.twoway import webhooks

    headers = {str(name).lower(): str(value) for name, value in (router.current_event.headers or {}).items()}
    return _answer(webhooks.google(headers).value)


@router.post("/webhooks/microsoft")
def microsoft() -> Response[str]:
    from calsync.services.twoway import webhooks

    # the raw query, decoded exactly once: Graph's token must come back as it meant it
    query = dict(parse_qsl(router.current_event.raw_query_string or "", keep_blank_values=True))
    token = webhooks.validation_token(query)
    if token is not None:
        return Response(status_code=200, content_type="text/plain; charset=utf-8", body=token,
                        headers={"X-Content-Type-Options": "nosniff"})
    return _answer(webhooks.microsoft(query, _body()).value)
