"""Zoho Bookings: webhooks configured in the app (unsigned as far as documented) on the secret URL,
then ``GET /bookings/v1/json/getappointment?booking_id=…`` (OAuth ``Zoho-oauthtoken`` header in
``api_auth``). Times are ``dd-Mon-yyyy HH:mm:ss`` in the appointment's ``time_zone``. The callback field
and the statuses are not confirmed.
"""

from __future__ import annotations

from typing import Any

from calsync.platforms.adapters._secret_url import SecretUrlPlatform
from calsync.platforms.api import PlatformApi
from calsync.platforms.base import Booking, Person
from calsync.platforms.mapping import readable
from calsync.platforms.source import Source
from calsync.platforms.times import local

STATUSES = {"cancel": "cancelled", "completed": "completed", "noshow": "no_show"}


class ZohoBookings(SecretUrlPlatform):
    name = "zoho_bookings"
    title = "Zoho Bookings"
    api_base = "https://www.zohoapis.com"
    reference_paths = (("booking_id",),)

    def fetch(self, api: PlatformApi, reference: str, source: Source) -> Booking | None:
        found = api.get("/bookings/v1/json/getappointment", {"booking_id": reference})
        with readable():
            if found is None or found["response"].get("status") != "success":
                return None
            return self.booking(found["response"]["returnvalue"], source)

    def booking(self, found: Any, source: Source) -> Booking | None:
        zone = found.get("time_zone") or source.timezone
        return Booking(
            booking_id=str(found["booking_id"]),
            status=STATUSES.get(str(found.get("status")), "scheduled"),
            start=local(found["start_time"], zone),
            end=local(found["end_time"], zone),
            timezone=zone,
            staff_ref=str(found["staff_id"]),
            client=Person(ref=str(found["booking_id"]), first_name=found.get("customer_name")),
            visit_type=found.get("service_name"),
        )


PLATFORM = ZohoBookings()
