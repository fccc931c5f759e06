"""Square Appointments: signed notifications carrying the booking's full state.

Verification (Square's "Validate that the notification is from Square"): ``x-square-hmacsha256-signature``
is the base64 HMAC-SHA256, with the subscription's signature key, of the notification URL *as
registered* followed by the raw body; the source's ``public_url`` names that URL when it differs from
the one the request reached. ``booking.created`` / ``booking.updated`` carry
``data.object.booking`` with ``version`` (Square's optimistic-concurrency counter) and ``updated_at``,
which together are the ordering key; cancellations and no-shows arrive as ``booking.updated``.

Square redelivers a notification it saw no 2xx for, with the same ``event_id`` (the de-duplication key);
an event ``created_at`` more than three days old is refused as stale, longer than Square keeps retrying.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from calsync.platforms.base import (
    Booking,
    Notice,
    Person,
    Platform,
    WebhookRequest,
    base64_digest,
    credential,
    hmac_sha256,
    require_signature,
)
from calsync.platforms.mapping import readable
from calsync.platforms.source import Source
from calsync.platforms.times import instant

STATUSES = {"PENDING": "scheduled", "ACCEPTED": "scheduled", "CANCELLED_BY_CUSTOMER": "cancelled",
            "CANCELLED_BY_SELLER": "cancelled", "DECLINED": "cancelled", "NO_SHOW": "no_show"}
HANDLED = ("booking.created", "booking.updated")


def booking(data: Mapping[str, Any]) -> Booking:
    segments = data.get("appointment_segments") or []
    start = instant(data["start_at"])
    minutes = sum(int(segment["duration_minutes"]) for segment in segments)
    customer = data.get("customer_id")
    return Booking(
        booking_id=str(data["id"]),
        status=STATUSES[data["status"]],
        start=start,
        end=start + dt.timedelta(minutes=minutes),
        staff_ref=segments[0].get("team_member_id") if segments else None,
        changed_at=instant(data["updated_at"]),
        version=int(data["version"]) if data.get("version") is not None else None,
        client=Person(ref=str(customer)) if customer else None,
        notes=data.get("customer_note"),
    )


class Square(Platform):
    name = "square"
    title = "Square Appointments"
    documented = True
    max_age = dt.timedelta(days=3)

    def verify(self, request: WebhookRequest, credentials: Mapping[str, Any], source: Source) -> None:
        url = source.public_url or request.url
        expected = base64_digest(hmac_sha256(credential(credentials, "signing_secret"), url, request.body))
        require_signature(expected, request.header("x-square-hmacsha256-signature"))

    def notices(self, request: WebhookRequest, source: Source) -> list[Notice]:
        body = request.json()
        with readable():
            kind = str(body["type"])
            sent_at = instant(body["created_at"])
            if kind not in HANDLED:
                return [Notice(kind=kind, sent_at=sent_at)]
            return [Notice(kind=kind, event_id=str(body["event_id"]), sent_at=sent_at,
                           booking=booking(body["data"]["object"]["booking"]))]


PLATFORM = Square()
