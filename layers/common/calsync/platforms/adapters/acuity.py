"""Acuity Scheduling: signed form posts that carry only a reference; the appointment is fetched back.

Verification (Acuity's "Webhooks" page): ``X-Acuity-Signature`` is the base64 HMAC-SHA256 of the raw body
with the account's API key. The body (``application/x-www-form-urlencoded``) holds ``action``
(``scheduled``, ``rescheduled``, ``canceled``, ``changed``), ``id``, ``calendarID`` and
``appointmentTypeID``; the appointment itself comes from ``GET /api/v1/appointments/{id}``.

The signature covers no time and the body no event id, and two reschedules of one appointment produce
identical bodies. So a request is never refused as a replay by its bytes: calsync fetches the current
state and refuses only when that state was already published (``state`` de-duplication), which is
exactly when accepting it again would change nothing. Acuity keeps no modification time either, so the
moment of the fetch orders the changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from calsync.platforms.api import PlatformApi
from calsync.platforms.base import (
    Booking,
    Notice,
    Person,
    Platform,
    Reason,
    Rejected,
    WebhookRequest,
    base64_digest,
    credential,
    hmac_sha256,
    require_signature,
)
from calsync.platforms.mapping import readable
from calsync.platforms.source import Source
from calsync.platforms.times import instant

ACTIONS = ("scheduled", "rescheduled", "canceled", "changed")


class Acuity(Platform):
    name = "acuity"
    title = "Acuity Scheduling"
    documented = True
    api_base = "https://acuityscheduling.com"

    def verify(self, request: WebhookRequest, credentials: Mapping[str, Any], source: Source) -> None:
        expected = base64_digest(hmac_sha256(credential(credentials, "signing_secret"), request.body))
        require_signature(expected, request.header("x-acuity-signature"))

    def notices(self, request: WebhookRequest, source: Source) -> list[Notice]:
        form = request.form()
        action = form.get("action", "")
        if action not in ACTIONS:
            return [Notice(kind=action or "unknown")]
        if not form.get("id", "").isdigit():
            raise Rejected(Reason.MALFORMED, 400, ["id: not an appointment id"])
        return [Notice(kind=action, reference=form["id"])]

    def fetch(self, api: PlatformApi, reference: str, source: Source) -> Booking | None:
        found = api.get(f"/api/v1/appointments/{quote(reference, safe='')}")
        if found is None:
            return None
        with readable():
            start = instant(found["datetime"])
            return Booking(
                booking_id=str(found["id"]),
                status="cancelled" if found.get("canceled") else ("no_show" if found.get("noShow") else "scheduled"),
                start=start,
                end=start + dt.timedelta(minutes=int(found["duration"])),
                timezone=found.get("timezone"),
                staff_ref=str(found["calendarID"]),
                client=Person(ref=str(found.get("clientID") or found["id"]), first_name=found.get("firstName"),
                              last_name=found.get("lastName")),
                visit_type=found.get("type"),
                location_address=found.get("location"),
                notes=found.get("notes"),
                deep_link=found.get("confirmationPage"),
            )


PLATFORM = Acuity()
