"""Salesforce: outbound messages (SOAP) for service appointments, on a secret URL.

Outbound messages are not signed (Salesforce's "Outbound Messaging" guide): the receiver checks the
``OrganizationId`` against its own org, answers the SOAP acknowledgement ``<Ack>true</Ack>`` (without it
Salesforce retries for 24 hours), and should not trust the message's field values. calsync therefore
takes only the ``Notification`` ids (the de-duplication key) and the ``sObject`` ids from the message and
reads each record through the REST API (``/services/data/v60.0/sobjects/ServiceAppointment/{id}`` on the
org's instance, the source's ``api_base_url``). The org id is the source option ``organization_id``.

The message is parsed only after refusing any document type declaration, so no entity can be expanded.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from typing import Any

from calsync.platforms.adapters._secret_url import SecretUrlPlatform
from calsync.platforms.base import Answer, Booking, Notice, Reason, Rejected, WebhookRequest, same
from calsync.platforms.mapping import readable
from calsync.platforms.source import Source
from calsync.platforms.times import instant

OUTBOUND = "{http://soap.sforce.com/2005/09/outbound}"
SOBJECT_ID = "{urn:sobject.enterprise.soap.sforce.com}Id"
STATUSES = {"Canceled": "cancelled", "Cannot Complete": "cancelled", "Completed": "completed"}
ACK = ('<?xml version="1.0" encoding="UTF-8"?>'
       '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
       '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
       '</notificationsResponse></soapenv:Body></soapenv:Envelope>')


def parse(text: str) -> ElementTree.Element:
    if re.search(r"<!DOCTYPE|<!ENTITY", text, re.IGNORECASE):
        raise Rejected(Reason.MALFORMED, 400, ["document type declarations are not accepted"])
    try:
        return ElementTree.fromstring(text)  # noqa: S314 - no DTD (checked above), so no entity expansion
    except ElementTree.ParseError:
        raise Rejected(Reason.MALFORMED, 400, ["body is not XML"]) from None


class Salesforce(SecretUrlPlatform):
    name = "salesforce"
    title = "Salesforce (outbound messages)"
    documented = True
    fetch_path = "/services/data/v60.0/sobjects/ServiceAppointment/{ref}"

    def notices(self, request: WebhookRequest, source: Source) -> list[Notice]:
        root = parse(request.text())
        message = root.find(f".//{OUTBOUND}notifications")
        if message is None:
            raise Rejected(Reason.MALFORMED, 400, ["no notifications element"])
        organization = (message.findtext(f"{OUTBOUND}OrganizationId") or "").strip()
        if not same(source.option("organization_id") or "", organization) or not organization:
            raise Rejected(Reason.SIGNATURE)
        found = []
        with readable():
            for notification in message.findall(f"{OUTBOUND}Notification"):
                record = notification.find(f"{OUTBOUND}sObject")
                notification_id = (notification.findtext(f"{OUTBOUND}Id") or "").strip()
                record_id = (record.findtext(SOBJECT_ID) or "").strip() if record is not None else ""
                if not notification_id or not record_id:
                    raise ValueError("notification without ids")
                found.append(Notice(kind="outbound_message", event_id=notification_id, reference=record_id))
        return found

    def booking(self, found: Any, source: Source) -> Booking | None:
        return Booking(
            booking_id=str(found["Id"]),
            status=STATUSES.get(str(found.get("Status")), "scheduled"),
            start=instant(found["SchedStartTime"]),
            end=instant(found["SchedEndTime"]),
            staff_ref=found.get("OwnerId"),
            changed_at=instant(found["LastModifiedDate"]),
            visit_type=found.get("Subject"),
            location_address=", ".join(str(found[k]) for k in ("Street", "City") if found.get(k)) or None,
        )

    def answer(self, accepted: int) -> Answer | None:
        return Answer(200, ACK, "text/xml; charset=utf-8")


PLATFORM = Salesforce()
