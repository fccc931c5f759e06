"""POST /webhooks/{provider}: calendar-provider push notifications and booking-platform webhooks.

Not implemented yet. The later work (two-way sync and booking-platform intake, see ARCHITECTURE.md "Data flow")
verifies each request (Google channel token, Graph clientState and validation handshake, booking-platform
signatures), runs the incremental pull and publishes ``External Busy Time Changed`` or ``Appointment Changed``
on the bus. Until then every call fails loudly: a fake 200 would tell a provider its notification was handled.
"""

from __future__ import annotations

from typing import Any, NoReturn

PENDING_WORK = (
    "on_webhook is not implemented yet: request verification, incremental pull and publishing to the bus "
    "come with the two-way sync and booking-platform webhook work"
)


def lambda_handler(event: dict[str, Any], context: object) -> NoReturn:
    raise NotImplementedError(PENDING_WORK)
