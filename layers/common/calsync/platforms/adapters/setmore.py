"""Setmore: no documented webhooks; a callback (e.g. from an automation) on the secret URL names the
appointment, which is read from Setmore's REST API (``/bookingapi/appointments/{key}``, OAuth access
token in ``api_auth``). The callback field and the response shape are not confirmed.
"""

from __future__ import annotations

from typing import Any

from calsync.platforms.adapters._secret_url import SecretUrlPlatform
from calsync.platforms.base import Booking, Person
from calsync.platforms.source import Source
from calsync.platforms.times import instant


class Setmore(SecretUrlPlatform):
    name = "setmore"
    title = "Setmore"
    api_base = "https://developer.setmore.com/api/v1"
    reference_paths = (("appointment_key",),)
    fetch_path = "/bookingapi/appointments/{ref}"

    def booking(self, found: Any, source: Source) -> Booking | None:
        appointment = found["data"]["appointment"]
        customer = appointment.get("customer") or {}
        return Booking(
            booking_id=str(appointment["key"]),
            status="cancelled" if appointment.get("cancelled") else "scheduled",
            start=instant(appointment["start_time"]),
            end=instant(appointment["end_time"]),
            staff_ref=str(appointment["staff_key"]),
            client=Person(ref=str(appointment["customer_key"]), first_name=customer.get("first_name"),
                          last_name=customer.get("last_name")) if appointment.get("customer_key") else None,
            visit_type=appointment.get("label"),
        )


PLATFORM = Setmore()
