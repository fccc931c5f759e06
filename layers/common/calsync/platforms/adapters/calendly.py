"""Calendly: signed webhooks carrying the invitee's full state.

Verification (Calendly's "Webhook Signatures" page): ``Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>``
where ``v1`` is HMAC-SHA256 with the subscription's signing key over ``<t>.<raw body>``; a ``t`` more
than three minutes away is refused.

A reschedule arrives as two webhooks (Calendly's "webhook payloads when invitees reschedule"):
``invitee.canceled`` with ``rescheduled: true`` and ``new_invitee`` on the old invitee, and
``invitee.created`` with ``old_invitee`` on the new one. The booking is the invitee; the pair is
linked through ``continued_by`` / ``continues`` so calsync moves one appointment.

No event id is sent, so a delivery is identified by event type, invitee and the envelope's ``created_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

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
    same,
)
from calsync.platforms.mapping import readable
from calsync.platforms.source import Source
from calsync.platforms.times import epoch_seconds, instant

HANDLED = ("invitee.created", "invitee.canceled")
API_HOST = "api.calendly.com"


def _uuid(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def api_path(uri: str) -> str:
    """The path of a Calendly API URI; only Calendly's own API host is accepted (a payload never decides
    where calsync connects)."""
    parts = urlsplit(uri)
    if parts.scheme != "https" or parts.hostname != API_HOST or not parts.path.startswith("/"):
        raise ValueError("not a Calendly API URI")
    return parts.path


def signature_fields(request: WebhookRequest) -> tuple[str, list[str]]:
    """``t`` and every ``v1`` of the signature header; raises :class:`Rejected` when they are absent."""
    header = request.header("calendly-webhook-signature") or ""
    stamp, signatures = "", []
    for element in header.split(","):
        key, _, value = element.strip().partition("=")
        if key == "t":
            stamp = value
        elif key == "v1":
            signatures.append(value)
    if not stamp.isdigit() or not signatures:
        raise Rejected(Reason.SIGNATURE)
    return stamp, signatures


def _name(invitee: Mapping[str, Any]) -> tuple[str | None, str | None]:
    first, last = invitee.get("first_name"), invitee.get("last_name")
    if first or last:
        return first, last
    name = str(invitee.get("name") or "").strip()
    if not name:
        return None, None
    head, _, tail = name.rpartition(" ")
    return (head or tail), (tail if head else None)


def booking(invitee: Mapping[str, Any], event: Mapping[str, Any]) -> Booking:
    """The booking of an Invitee resource and its Scheduled Event resource."""
    location = event.get("location") or {}
    memberships = event.get("event_memberships") or []
    first, last = _name(invitee)
    booking_id = _uuid(invitee["uri"])
    cancelled = invitee.get("status") == "canceled" or event.get("status") == "canceled"
    rescheduled = bool(invitee.get("rescheduled")) and cancelled
    return Booking(
        booking_id=booking_id,
        status="cancelled" if cancelled else ("no_show" if invitee.get("no_show") else "scheduled"),
        start=instant(event["start_time"]),
        end=instant(event["end_time"]),
        timezone=invitee.get("timezone"),
        staff_ref=_uuid(memberships[0]["user"]) if memberships else None,
        changed_at=instant(invitee["updated_at"]),
        client=Person(ref=booking_id, first_name=first, last_name=last),
        visit_type=event.get("name"),
        location_address=location.get("location") if location.get("type") == "physical" else None,
        telehealth_url=location.get("join_url"),
        continues=_uuid(invitee["old_invitee"]) if invitee.get("old_invitee") else None,
        continued_by=(_uuid(invitee["new_invitee"]) if invitee.get("new_invitee") else "") if rescheduled else None,
        continued_by_ref=api_path(invitee["new_invitee"]) if rescheduled and invitee.get("new_invitee") else None,
    )


class Calendly(Platform):
    name = "calendly"
    title = "Calendly"
    documented = True
    max_age = dt.timedelta(minutes=3)
    api_base = f"https://{API_HOST}"

    def verify(self, request: WebhookRequest, credentials: Mapping[str, Any], source: Source) -> None:
        stamp, signatures = signature_fields(request)
        expected = hex_digest(hmac_sha256(credential(credentials, "signing_secret"), f"{stamp}.", request.body))
        if not any(same(expected, signature) for signature in signatures):
            raise Rejected(Reason.SIGNATURE)

    def notices(self, request: WebhookRequest, source: Source) -> list[Notice]:
        stamp, _ = signature_fields(request)
        envelope = request.json()
        with readable():
            kind = str(envelope["event"])
            sent_at = epoch_seconds(stamp)
            if kind not in HANDLED:
                return [Notice(kind=kind, sent_at=sent_at)]
            invitee = envelope["payload"]
            found = booking(invitee, invitee["scheduled_event"])
            return [Notice(kind=kind, event_id=f"{kind}#{found.booking_id}#{envelope['created_at']}",
                           sent_at=sent_at, booking=found)]

    def fetch(self, api: PlatformApi, reference: str, source: Source) -> Booking | None:
        """``reference`` is an invitee's API path (``/scheduled_events/<event>/invitees/<invitee>``)."""
        invitee = api.get(reference)
        if invitee is None:
            return None
        with readable():
            resource = invitee["resource"]
            event = api.get(api_path(resource["event"]))
            if event is None:
                return None
            return booking(resource, event["resource"])


PLATFORM = Calendly()
