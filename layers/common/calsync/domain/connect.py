"""The connect page's rules, without I/O: what a connect link says and how it is written, what a clinician
chooses, which OAuth scopes each choice needs, and the sample appointment the live preview renders.

A connect link is ``<payload>.<mac>``, both base64url: the payload is compact JSON naming the link id,
the tenant, the practitioner, an optional integration to reconnect and the expiry; the MAC is an HMAC
made by KMS over the payload (``calsync.aws.mac``). The link id is 256 random bits and is stored only as
its SHA-256, so the links table reveals no usable link. A link is also single use: claiming it is a
conditional write (``calsync.store.connect``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from calsync.domain.contract import AppointmentChanged
from calsync.domain.model import Direction, PrivacySettings, Provider, SyncWindow

LINK_LIFETIME = dt.timedelta(minutes=15)
"""How long a connect link may wait to be opened: long enough for an e-mail or a message, short enough
that a forwarded or leaked one soon stops working."""
SESSION_LIFETIME = dt.timedelta(hours=1)
"""How long the browser session a link opens lasts: the whole flow, consent included."""
STATE_LIFETIME = dt.timedelta(minutes=10)
"""How long an OAuth ``state`` waits for the provider to send the browser back (codes live as long)."""
DEDICATED_CALENDAR = "Clinic appointments"
LINK_VERSION = 1


def new_secret() -> str:
    """256 random bits, URL-safe: link ids, session secrets, OAuth states."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored instead of a secret (hex SHA-256): a leaked table reveals no usable link or state."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LinkClaims:
    """What a connect link says. ``reconnect_id`` names an integration whose consent is renewed."""

    link_id: str
    tenant_id: str
    practitioner_id: str
    expires_at: dt.datetime
    reconnect_id: str | None = None

    def payload(self) -> bytes:
        body = {"v": LINK_VERSION, "lid": self.link_id, "tid": self.tenant_id, "pid": self.practitioner_id,
                "exp": int(self.expires_at.timestamp())}
        if self.reconnect_id:
            body["rid"] = self.reconnect_id
        return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()

    def expired(self, now: dt.datetime) -> bool:
        return now >= self.expires_at


def encode_link(claims: LinkClaims, mac: bytes) -> str:
    return f"{_b64(claims.payload())}.{_b64(mac)}"


class MalformedLinkError(ValueError):
    """Not a connect link at all (cut short, altered beyond parsing, or made up)."""


def decode_link(token: str) -> tuple[LinkClaims, bytes, bytes]:
    """The claims, the payload bytes they came from and the MAC; the MAC is *not* checked here."""
    if len(token) > 1024 or token.count(".") != 1:
        raise MalformedLinkError("not a connect link")
    payload_text, mac_text = token.split(".")
    try:
        payload, mac = _unb64(payload_text), _unb64(mac_text)
        body = json.loads(payload)
        if not isinstance(body, dict) or body.get("v") != LINK_VERSION:
            raise MalformedLinkError("unknown connect link version")
        claims = LinkClaims(link_id=str(body["lid"]), tenant_id=str(body["tid"]), practitioner_id=str(body["pid"]),
                            expires_at=dt.datetime.fromtimestamp(int(body["exp"]), dt.UTC),
                            reconnect_id=str(body["rid"]) if body.get("rid") else None)
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError, OSError):
        raise MalformedLinkError("not a connect link") from None
    return claims, payload, mac


# -- what the clinician chooses ---------------------------------------------------------------------------


class CalendarTarget(StrEnum):
    DEDICATED = "dedicated"  # a calendar calsync creates ("Clinic appointments"): recommended
    EXISTING = "existing"    # one the clinician picks from their calendars


class Choices(BaseModel):
    """Everything the clinician picks on the settings page (before consent, so scopes can be minimal)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Provider
    direction: Direction = Direction.PUSH
    target: CalendarTarget = CalendarTarget.DEDICATED
    window: SyncWindow = SyncWindow()
    privacy: PrivacySettings = PrivacySettings()
    busy_calendars: tuple[str, ...] = Field(default=(), max_length=50)

    @property
    def needs_calendar_choice(self) -> bool:
        """Whether the clinician still picks calendars after signing in (one to write to, or busy ones)."""
        return (self.direction.pushes and self.target is CalendarTarget.EXISTING) or self.direction in (
            Direction.PULL, Direction.TWO_WAY)


GOOGLE_SCOPE = "https://www.googleapis.com/auth/"
GRAPH_SCOPE = "https://graph.microsoft.com/"
GOOGLE_IDENTITY_SCOPES = ("openid", "email")
"""Asked besides the calendar scopes, not required: the signed-in account's address, which tells the
practice's privacy policy whether the calendar is in a domain it manages (``Integration.account``). Without
it the account counts as a consumer one, the stricter cap. Microsoft's sign-in always says who it was."""


def google_scopes(direction: Direction, target: CalendarTarget) -> list[str]:
    """The fewest Google scopes that do what was chosen.

    A dedicated calendar needs only ``calendar.app.created`` (make calendars, and reach those alone);
    writing into an existing calendar needs ``calendar.events`` and listing calendars to pick one;
    reading busy time (pull, two-way) needs read-only events and the calendar list.
    """
    scopes: set[str] = set()
    if direction.pushes:
        if target is CalendarTarget.DEDICATED:
            scopes.add(GOOGLE_SCOPE + "calendar.app.created")
        else:
            scopes |= {GOOGLE_SCOPE + "calendar.events", GOOGLE_SCOPE + "calendar.calendarlist.readonly"}
    if direction is not Direction.PUSH:
        scopes |= {GOOGLE_SCOPE + "calendar.events.readonly", GOOGLE_SCOPE + "calendar.calendarlist.readonly"}
    return sorted(scopes)


def microsoft_scopes(direction: Direction) -> list[str]:
    """Graph has no narrower write scope than ``Calendars.ReadWrite`` (it also creates the dedicated
    calendar); pull needs only ``Calendars.Read``. msal adds ``openid profile offline_access`` itself."""
    return [GRAPH_SCOPE + ("Calendars.ReadWrite" if direction.pushes else "Calendars.Read")]


def missing_scopes(asked: list[str], granted: str | list[str] | None) -> list[str]:
    """What the clinician did not grant (Google's consent is granular: a box can be unticked)."""
    given = set(granted.split() if isinstance(granted, str) else (granted or []))
    return [scope for scope in asked if scope not in given]


# -- the live preview -------------------------------------------------------------------------------------


def sample_appointment(now: dt.datetime | None = None) -> AppointmentChanged:
    """A made-up appointment (no real patient) for the preview: tomorrow 09:30–10:20, with every field
    filled, so each switch visibly changes what the preview shows."""
    now = now or dt.datetime.now(dt.UTC)
    day = (now + dt.timedelta(days=1)).date()
    start = dt.datetime.combine(day, dt.time(9, 30), dt.UTC)
    detail: dict[str, Any] = {
        "schema_version": 1, "tenant_id": "preview", "appointment_id": "preview-1",
        "updated_at": now.isoformat(), "status": "scheduled", "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=50)).isoformat(), "timezone": "UTC", "all_day": False,
        "practitioner_id": "preview", "practice": {"id": "preview", "name": "Main Street Family Practice"},
        "location": {"name": "Room 4", "address": "12 Main Street"}, "visit_type": "Follow-up",
        "telehealth_url": "https://video.example-ehr.com/v/sample", "notes": "Review lab results",
        "deep_link": "https://app.example-ehr.com/appointments/sample",
        "client": {"id": "sample", "internal_id": "A-1234", "first_name": "Jordan", "last_name": "Rivera"},
    }
    return AppointmentChanged.model_validate(detail)
