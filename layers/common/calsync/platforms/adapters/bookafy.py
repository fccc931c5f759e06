"""Bookafy: unsigned callbacks on the secret URL naming the appointment, read back from Bookafy's API.

Bookafy's public developer page repeats another platform's webhook text, so nothing of its scheme could
be confirmed; calsync treats it like every platform that cannot sign (secret URL, fetch-back of
``/v1/appointments/{id}``). The callback field and the response shape are assumptions.
"""

from __future__ import annotations

from typing import Any

from calsync.platforms.adapters._secret_url import SecretUrlPlatform
from calsync.platforms.base import Booking, Person
from calsync.platforms.source import Source
from calsync.platforms.times import instant


class Bookafy(SecretUrlPlatform):
    name = "bookafy"
    title = "Bookafy"
    api_base = "https://api.bookafy.com"
    reference_paths = (("appointment_id",),)
    fetch_path = "/v1/appointments/{ref}"

    def booking(self, found: Any, source: Source) -> Booking | None:
        appointment = found["appointment"]
        customer = appointment.get("customer") or {}
        return Booking(
            booking_id=str(appointment["id"]),
            status="cancelled" if appointment.get("status") == "cancelled" else "scheduled",
            start=instant(appointment["start_time"]),
            end=instant(appointment["end_time"]),
            timezone=appointment.get("timezone"),
            staff_ref=str(appointment["staff_id"]),
            changed_at=instant(appointment["updated_at"]) if appointment.get("updated_at") else None,
            client=Person(ref=str(customer["id"]), first_name=customer.get("first_name"),
                          last_name=customer.get("last_name")) if customer.get("id") else None,
            visit_type=appointment.get("service_name"),
        )


PLATFORM = Bookafy()
