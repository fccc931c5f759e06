"""HubSpot: meetings, and lead forms whose appointment preference becomes a tentative hold.

Verification (HubSpot's "Validating requests", v3): ``X-HubSpot-Signature-v3`` is the base64 HMAC-SHA256,
with the app's client secret, of ``method + URI + body + timestamp``, where the URI is the full URL
called and the timestamp is ``X-HubSpot-Request-Timestamp`` (milliseconds); a timestamp more than five
minutes old is refused. HubSpot decodes a fixed set of percent-escapes in the URI before signing; calsync
does the same (:data:`DECODED`).

A webhook is a batch of events (``eventId``, ``subscriptionType``, ``objectId``, ...) that carry
references only, so each is fetched back through the CRM API:

* a meeting (object type ``0-47``) → ``GET /crm/v3/objects/meetings/{id}``; a deleted meeting is
  removed from the calendar;
* a contact whose appointment-preference property changed (the lead form writes it; the property is the
  source option ``hold_property``, ``appointment_preference`` by default) → a *tentative hold* at the
  preferred time, ``hold_minutes`` long (30 by default). The published contract has no tentative status,
  so a hold is a scheduled appointment whose visit type reads "Tentative hold"; clearing the preference
  removes it.
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
from calsync.platforms.times import epoch_millis, instant

DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
           "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
MEETING_TYPE = "0-47"
MEETING_PROPERTIES = ("hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time", "hs_meeting_outcome",
                      "hs_meeting_location", "hs_meeting_external_url", "hubspot_owner_id", "hs_lastmodifieddate")
OUTCOMES = {"SCHEDULED": "scheduled", "RESCHEDULED": "scheduled", "COMPLETED": "completed",
            "NO_SHOW": "no_show", "CANCELED": "cancelled"}
HOLD_TITLE = "Tentative hold"


def signed_uri(url: str) -> str:
    for escaped, plain in DECODED.items():
        url = url.replace(escaped, plain).replace(escaped.lower(), plain)
    return url


def _sent_at(request: WebhookRequest) -> dt.datetime:
    stamp = request.header("x-hubspot-request-timestamp") or ""
    if not stamp.isdigit():
        raise Rejected(Reason.SIGNATURE)
    return epoch_millis(stamp)


class HubSpot(Platform):
    name = "hubspot"
    title = "HubSpot (meetings and lead forms)"
    documented = True
    max_age = dt.timedelta(minutes=5)
    api_base = "https://api.hubapi.com"

    def verify(self, request: WebhookRequest, credentials: Mapping[str, Any], source: Source) -> None:
        stamp = request.header("x-hubspot-request-timestamp") or ""
        if not stamp.isdigit():
            raise Rejected(Reason.SIGNATURE)
        uri = signed_uri(source.public_url or request.url)
        expected = base64_digest(hmac_sha256(credential(credentials, "signing_secret"), request.method.upper(),
                                             uri, request.body, stamp))
        require_signature(expected, request.header("x-hubspot-signature-v3"))

    def notices(self, request: WebhookRequest, source: Source) -> list[Notice]:
        sent_at = _sent_at(request)
        events = request.json()
        hold_property = source.option("hold_property") or "appointment_preference"
        found: list[Notice] = []
        with readable():
            if not isinstance(events, list):
                raise TypeError("not a list of events")
            for event in events:
                kind = str(event["subscriptionType"])
                event_id = str(int(event["eventId"]))
                object_id = str(int(event["objectId"]))
                if event.get("objectTypeId") == MEETING_TYPE or kind.startswith("meeting."):
                    found.append(Notice(kind=kind, event_id=event_id, sent_at=sent_at,
                                        reference=f"meeting-{object_id}", removed=kind.endswith(".deletion")))
                elif kind == "contact.propertyChange" and event.get("propertyName") == hold_property:
                    found.append(Notice(kind=kind, event_id=event_id, sent_at=sent_at,
                                        reference=f"hold-{object_id}"))
                else:
                    found.append(Notice(kind=kind, sent_at=sent_at))
        return found

    def fetch(self, api: PlatformApi, reference: str, source: Source) -> Booking | None:
        kind, _, object_id = reference.partition("-")
        if kind == "meeting":
            return self._meeting(api, object_id)
        if kind == "hold":
            return self._hold(api, object_id, source)
        raise Rejected(Reason.MALFORMED, 400, ["unknown HubSpot reference"])

    def _meeting(self, api: PlatformApi, object_id: str) -> Booking | None:
        found = api.get(f"/crm/v3/objects/meetings/{quote(object_id, safe='')}",
                        {"properties": ",".join(MEETING_PROPERTIES)})
        if found is None:
            return None
        with readable():
            values = found["properties"]
            return Booking(
                booking_id=f"meeting-{found['id']}",
                status=OUTCOMES.get(str(values.get("hs_meeting_outcome") or "SCHEDULED"), "scheduled"),
                start=instant(values["hs_meeting_start_time"]),
                end=instant(values["hs_meeting_end_time"]),
                staff_ref=values.get("hubspot_owner_id"),
                changed_at=instant(values["hs_lastmodifieddate"]),
                visit_type=values.get("hs_meeting_title"),
                location_name=values.get("hs_meeting_location"),
                telehealth_url=values.get("hs_meeting_external_url"),
            )

    def _hold(self, api: PlatformApi, object_id: str, source: Source) -> Booking | None:
        hold_property = source.option("hold_property") or "appointment_preference"
        found = api.get(f"/crm/v3/objects/contacts/{quote(object_id, safe='')}",
                        {"properties": f"firstname,lastname,hubspot_owner_id,lastmodifieddate,{hold_property}"})
        if found is None:
            return None
        with readable():
            values = found["properties"]
            if not values.get(hold_property):
                return None  # the preference was withdrawn: the hold goes
            start = instant(values[hold_property])
            return Booking(
                booking_id=f"hold-{found['id']}",
                status="scheduled",
                start=start,
                end=start + dt.timedelta(minutes=int(source.option("hold_minutes") or 30)),
                staff_ref=values.get("hubspot_owner_id"),
                changed_at=instant(values["lastmodifieddate"]),
                client=Person(ref=str(found["id"]), first_name=values.get("firstname"),
                              last_name=values.get("lastname")),
                visit_type=HOLD_TITLE,
            )


PLATFORM = HubSpot()
