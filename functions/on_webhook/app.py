"""on_webhook: ``POST /webhooks/{provider}`` on the HTTP API.

No webhook source is connected yet: every request is answered ``404`` with a small JSON body, without
raising (an error would let anyone on the internet trip the function's error alarm) and without touching
any AWS service.
"""

from __future__ import annotations

from typing import Any

NOT_FOUND = {"statusCode": 404, "headers": {"Content-Type": "application/json"},
             "body": '{"message":"no webhook is configured at this address"}'}


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return dict(NOT_FOUND)
