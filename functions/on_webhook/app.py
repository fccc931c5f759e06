"""POST /webhooks/{provider}: calendar-provider push notifications and booking-platform webhooks.

Not implemented yet. The later work (two-way sync and booking-platform intake) verifies each request (Google
channel token, Graph clientState and validation handshake, booking-platform signatures), runs the incremental
pull and publishes ``External Busy Time Changed`` or ``Appointment Changed`` on the bus. Until then every call
is answered 501 without raising: a 200 would tell a provider its notification was handled, and a raise would
let anyone on the internet trip the function's error alarm.
"""

from __future__ import annotations

import json
from typing import Any

PENDING_WORK = "webhooks are not handled yet"


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return {"statusCode": 501, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"message": PENDING_WORK})}
