"""SimplyBook.me: an unsigned callback naming the booking, then its details from the JSON-RPC API.

The callback (SimplyBook.me's API "callback URL" feature) posts ``booking_id``, ``booking_hash``,
``company`` and ``notification_type`` (``create``, ``cancel``, ``change``); no signature is documented,
so the tenant's secret URL authenticates it and the booking is read with ``getBookingDetails`` on the
company's admin JSON-RPC endpoint (``/admin``, headers ``X-Company-Login`` and ``X-Token`` from the
tenant's ``api_auth``). Times are the company's wall clock (the source's time zone). Field names of
the details are as third-party clients use them; not confirmed against SimplyBook.me's documentation.
"""

from __future__ import annotations

from typing import Any

from calsync.platforms.adapters._secret_url import SecretUrlPlatform
from calsync.platforms.api import PlatformApi
from calsync.platforms.base import Booking, Person
from calsync.platforms.mapping import readable
from calsync.platforms.source import Source
from calsync.platforms.times import local


class SimplyBook(SecretUrlPlatform):
    name = "simplybook"
    title = "SimplyBook.me"
    api_base = "https://user-api.simplybook.me"
    reference_paths = (("booking_id",),)
    kind_field = "notification_type"

    def fetch(self, api: PlatformApi, reference: str, source: Source) -> Booking | None:
        found = api.post("/admin", {"jsonrpc": "2.0", "method": "getBookingDetails", "params": [reference],
                                    "id": 1})
        if found is None or found.get("result") is None:
            return None
        with readable():
            return self.booking(found["result"], source)

    def booking(self, found: Any, source: Source) -> Booking | None:
        cancelled = str(found.get("is_confirmed", "1")) == "0" or found.get("status") == "cancelled"
        return Booking(
            booking_id=str(found["id"]),
            status="cancelled" if cancelled else "scheduled",
            start=local(found["start_date_time"], source.timezone),
            end=local(found["end_date_time"], source.timezone),
            staff_ref=str(found["unit_id"]),
            client=Person(ref=str(found["client_id"]), first_name=found.get("client_name")) if found.get(
                "client_id") else None,
            visit_type=found.get("event_name"),
        )


PLATFORM = SimplyBook()
