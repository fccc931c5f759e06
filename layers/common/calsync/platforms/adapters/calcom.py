"""Cal.com: signed webhooks carrying the booking's full state.

Verification (Cal.com's own source, ``packages/features/webhooks/lib/sendPayload.ts``):
``X-Cal-Signature-256`` is the hex HMAC-SHA256 of the exact body with the webhook's secret; a webhook
without a secret sends the literal ``no-secret-provided``, which never verifies here (a source must
have a secret). The default body is ``{"triggerEvent", "createdAt", "payload"}``; ``createdAt`` is the
moment the webhook fired, signed with the body, so it is the staleness check's clock and, with the
trigger and the booking's ``uid``, the delivery's identity. A custom payload template is not supported.

``BOOKING_RESCHEDULED`` describes the new booking (a new ``uid``) and names the one it replaces in
``rescheduleUid``: calsync moves the original appointment instead of making a second one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from calsync.platforms.base import (
    Booking,
    Notice,
    Person,
    Platform,
    WebhookRequest,
    credential,
    hex_digest,
    hmac_sha256,
    require_signature,
)
from calsync.platforms.mapping import readable
from calsync.platforms.source import Source
from calsync.platforms.times import instant

STATUSES = {"BOOKING_CREATED": "scheduled", "BOOKING_REQUESTED": "scheduled", "BOOKING_RESCHEDULED": "scheduled",
            "BOOKING_CANCELLED": "cancelled", "BOOKING_REJECTED": "cancelled"}


def _person(attendee: Mapping[str, Any]) -> Person:
    name = str(attendee.get("name") or "").strip()
    head, _, tail = name.rpartition(" ")
    email = str(attendee.get("email") or name)
    return Person(ref=hashlib.sha256(email.lower().encode()).hexdigest()[:20], first_name=(head or tail) or None,
                  last_name=tail if head else None)


def _staff(organizer: Mapping[str, Any]) -> str | None:
    for key in ("id", "username", "email"):
        if organizer.get(key) is not None:
            return str(organizer[key])
    return None


class CalCom(Platform):
    name = "calcom"
    title = "Cal.com"
    documented = True
    max_age = dt.timedelta(hours=1)

    def verify(self, request: WebhookRequest, credentials: Mapping[str, Any], source: Source) -> None:
        expected = hex_digest(hmac_sha256(credential(credentials, "signing_secret"), request.body))
        presented = request.header("x-cal-signature-256")
        require_signature(expected, presented.removeprefix("sha256=") if presented else None)

    def notices(self, request: WebhookRequest, source: Source) -> list[Notice]:
        body = request.json()
        with readable():
            trigger = str(body["triggerEvent"])
            sent_at = instant(body["createdAt"])
            if trigger not in STATUSES:
                return [Notice(kind=trigger, sent_at=sent_at)]
            payload = body["payload"]
            organizer = payload.get("organizer") or {}
            attendees = payload.get("attendees") or []
            location = str(payload.get("location") or "")
            video = (payload.get("metadata") or {}).get("videoCallUrl") or (location if location.startswith(
                "https://") else None)
            found = Booking(
                booking_id=str(payload["uid"]),
                status=STATUSES[trigger],
                start=instant(payload["startTime"]),
                end=instant(payload["endTime"]),
                timezone=organizer.get("timeZone"),
                staff_ref=_staff(organizer),
                changed_at=sent_at,
                client=_person(attendees[0]) if attendees else None,
                visit_type=payload.get("eventTitle") or payload.get("type"),
                location_address=location if location and not location.startswith(("https://", "integrations:"))
                else None,
                telehealth_url=video,
                continues=str(payload["rescheduleUid"]) if trigger == "BOOKING_RESCHEDULED" and payload.get(
                    "rescheduleUid") else None,
            )
            return [Notice(kind=trigger, event_id=f"{trigger}#{found.booking_id}#{body['createdAt']}",
                           sent_at=sent_at, booking=found)]


PLATFORM = CalCom()
