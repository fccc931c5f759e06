"""Appointlet: unsigned webhooks carrying the meeting's state, on the secret URL.

Appointlet's help article "Using webhooks with Appointlet": a JSON ``Activity`` (``id``, ``created_at``,
``action`` such as ``Meeting.scheduled``, ``Meeting.rescheduled``, ``Meeting.cancelled``) whose
``entity`` is the meeting (``id``, ``start``, ``end``, ``cancelled``, ``location``, ``name``, ...); no
signature is documented and no public API to read a meeting back was found, so the tenant's secret URL
is the only authentication and the payload's own state is used. The activity ``id`` de-duplicates.
Which field names the host is not documented; calsync reads ``entity.host.id`` (an assumption).
"""

from __future__ import annotations

from typing import Any

from calsync.platforms.adapters._secret_url import SecretUrlPlatform, callback_fields
from calsync.platforms.base import Booking, Notice, WebhookRequest
from calsync.platforms.mapping import readable
from calsync.platforms.source import Source
from calsync.platforms.times import instant


class Appointlet(SecretUrlPlatform):
    name = "appointlet"
    title = "Appointlet"
    documented = True

    def notices(self, request: WebhookRequest, source: Source) -> list[Notice]:
        activity = callback_fields(request)
        with readable():
            action = str(activity["action"])
            entity = activity["entity"]
            if not action.startswith("Meeting.") or entity.get("type") != "Meeting":
                return [Notice(kind=action)]
            return [Notice(kind=action, event_id=str(activity["id"]), booking=self.booking(activity, source))]

    def booking(self, found: Any, source: Source) -> Booking | None:
        entity = found["entity"]
        return Booking(
            booking_id=str(entity["id"]),
            status="cancelled" if entity.get("cancelled") else "scheduled",
            start=instant(entity["start"]),
            end=instant(entity["end"]),
            timezone=entity.get("timezone"),
            staff_ref=str((entity.get("host") or {}).get("id")) if (entity.get("host") or {}).get("id") else None,
            changed_at=instant(found["created_at"]),
            visit_type=entity.get("name"),
            location_address=entity.get("location"),
        )


PLATFORM = Appointlet()
