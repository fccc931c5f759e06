"""TimeTap: an unsigned webhook carrying the appointment; the appointment is read back from the API.

TimeTap's "Integrating Webhooks" page: the back office posts the appointment object (``calendarid``,
``reason``, ``client``, ``staff``, ``location``, ...) on every create, edit and delete, without a
signature. The tenant's secret URL authenticates the call, the ``calendarid`` is the reference, and
``GET /appointments/{calendarId}`` (TimeTap's Appointments API) gives the state: ``startDate`` with
``startTime``/``endTime`` as HHMM integers in the staff member's zone (``staff.timeZoneCode``). The
date and status field names are not confirmed.
"""

from __future__ import annotations

from typing import Any

from calsync.platforms.adapters._secret_url import SecretUrlPlatform
from calsync.platforms.base import Booking, Person
from calsync.platforms.source import Source
from calsync.platforms.times import clock_time

STATUSES = {"CANCELLED": "cancelled", "COMPLETED": "completed", "NO_SHOW": "no_show"}


class TimeTap(SecretUrlPlatform):
    name = "timetap"
    title = "TimeTap"
    documented = True
    api_base = "https://api.timetap.com/live"
    reference_paths = (("calendarid",), ("calendarId",))
    fetch_path = "/appointments/{ref}"

    def booking(self, found: Any, source: Source) -> Booking | None:
        staff = found.get("staff") or {}
        zone = staff.get("timeZoneCode") or source.timezone
        client = found.get("client") or {}
        return Booking(
            booking_id=str(found.get("calendarid") or found["calendarId"]),
            status=STATUSES.get(str(found.get("status")), "scheduled"),
            start=clock_time(found["startDate"], found["startTime"], zone),
            end=clock_time(found.get("endDate") or found["startDate"], found["endTime"], zone),
            timezone=zone,
            staff_ref=str(staff["professionalId"]),
            client=Person(ref=str(client["clientId"]), first_name=client.get("firstName"),
                          last_name=client.get("lastName")) if client.get("clientId") else None,
            visit_type=(found.get("reason") or {}).get("reasonDesc"),
            location_name=(found.get("location") or {}).get("locationName"),
        )


PLATFORM = TimeTap()
