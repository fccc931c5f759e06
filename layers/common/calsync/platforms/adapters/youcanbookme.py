"""YouCanBookMe: a webhook action without a signature; the booking is read back from the API.

YouCanBookMe's "Webhooks" help page: a webhook is an action on a notification trigger (booked,
rescheduled, cancelled, ...) whose JSON payload the account writes itself from shorthand codes, with
optional custom headers — nothing is signed. Configure the payload as ``{"booking": "{ID}"}`` and the
tenant's secret URL; calsync then reads ``GET /v1/bookings/{id}`` (the public REST API). The shorthand
code and the booking's field names are not confirmed.
"""

from __future__ import annotations

from typing import Any

from calsync.platforms.adapters._secret_url import SecretUrlPlatform
from calsync.platforms.base import Booking, Person
from calsync.platforms.source import Source
from calsync.platforms.times import instant


class YouCanBookMe(SecretUrlPlatform):
    name = "youcanbookme"
    title = "YouCanBookMe"
    documented = True
    api_base = "https://api.youcanbook.me"
    reference_paths = (("booking",),)
    fetch_path = "/v1/bookings/{ref}"

    def booking(self, found: Any, source: Source) -> Booking | None:
        return Booking(
            booking_id=str(found["id"]),
            status="cancelled" if found.get("cancelled") else "scheduled",
            start=instant(found["startsAt"]),
            end=instant(found["endsAt"]),
            timezone=found.get("timeZone"),
            staff_ref=str(found["profileId"]),
            changed_at=instant(found["updatedAt"]) if found.get("updatedAt") else None,
            client=Person(ref=str(found["id"]), first_name=found.get("firstName"),
                          last_name=found.get("lastName")),
            visit_type=found.get("title"),
        )


PLATFORM = YouCanBookMe()
