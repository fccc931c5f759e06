"""Jane App: the partner-only Jane Developer Platform (built to its documented shape; not confirmed).

Jane's webhook documentation is available to technology partners only. What is public (a catalog of
developers.jane.app) says: each delivery carries ``X-Jane-Signature: sha256=<hmac>`` and
``X-Jane-Timestamp``, HMAC-SHA256 with the secret shown once at registration, and a body without patient
data — ``event_id`` (a UUID, for de-duplication), ``event_topic`` (``APPOINTMENT_BOOKED``,
``APPOINTMENT_CANCELLED``, ``APPOINTMENT_RESCHEDULED``, ``APPOINTMENT_UNCANCELLED``), ``event_timestamp``,
``appointment_id``, ``clinic_guid``, ``version``. The signed content is not public: calsync assumes
``<timestamp>.<raw body>`` with a hex digest and a five-minute window, and fetches the appointment from
the clinic's API (``GET {clinic}/appointments/{id}``, the source's ``api_base_url``). Confirm all of it
with Jane before relying on it.
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
    credential,
    hex_digest,
    hmac_sha256,
    require_signature,
)
from calsync.platforms.mapping import readable
from calsync.platforms.source import Source
from calsync.platforms.times import epoch_seconds, instant

TOPICS = ("APPOINTMENT_BOOKED", "APPOINTMENT_CANCELLED", "APPOINTMENT_RESCHEDULED", "APPOINTMENT_UNCANCELLED")
STATES = {"booked": "scheduled", "arrived": "scheduled", "cancelled": "cancelled", "no_show": "no_show",
          "checked_out": "completed"}


def _stamp(request: WebhookRequest) -> str:
    stamp = request.header("x-jane-timestamp") or ""
    if not stamp.isdigit():
        raise Rejected(Reason.SIGNATURE)
    return stamp


class Jane(Platform):
    name = "jane"
    title = "Jane App"
    documented = False
    max_age = dt.timedelta(minutes=5)

    def verify(self, request: WebhookRequest, credentials: Mapping[str, Any], source: Source) -> None:
        stamp = _stamp(request)
        expected = "sha256=" + hex_digest(hmac_sha256(credential(credentials, "signing_secret"), f"{stamp}.",
                                                      request.body))
        require_signature(expected, request.header("x-jane-signature"))

    def notices(self, request: WebhookRequest, source: Source) -> list[Notice]:
        sent_at = epoch_seconds(_stamp(request))
        body = request.json()
        with readable():
            topic = str(body["event_topic"])
            if topic not in TOPICS:
                return [Notice(kind=topic, sent_at=sent_at)]
            return [Notice(kind=topic, event_id=str(body["event_id"]), sent_at=sent_at,
                           reference=str(body["appointment_id"]))]

    def fetch(self, api: PlatformApi, reference: str, source: Source) -> Booking | None:
        found = api.get(f"/appointments/{quote(reference, safe='')}")
        if found is None:
            return None
        with readable():
            appointment = found["appointment"]
            patient = appointment.get("patient") or {}
            return Booking(
                booking_id=str(appointment["id"]),
                status=STATES.get(str(appointment["state"]), "scheduled"),
                start=instant(appointment["start_at"]),
                end=instant(appointment["end_at"]),
                staff_ref=str(appointment["staff_member_id"]),
                changed_at=instant(appointment["updated_at"]),
                version=int(appointment["version"]) if appointment.get("version") is not None else None,
                client=Person(ref=str(patient["id"]), first_name=patient.get("first_name"),
                              last_name=patient.get("last_name")) if patient.get("id") else None,
                visit_type=appointment.get("treatment_name"),
                location_name=appointment.get("location_name"),
            )


PLATFORM = Jane()
