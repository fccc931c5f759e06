"""What every booking-platform adapter shares: the request it verifies, what it reports, and the
verification helpers.

An adapter (one module under ``calsync.platforms.adapters``) is pure: it checks a request with the
platform's own scheme, says which changes the request reports (:class:`Notice`), and turns the
platform's booking JSON into a :class:`Booking`. Everything with effects — the de-duplication store, the
fetch-back call, the bus — is ``calsync.services.platforms.intake``'s job, so every adapter is tested without I/O.

Three ways a platform proves a request is its own (:class:`Scheme`):

* ``signature`` — an HMAC over the request with a secret shared with the platform (Calendly, Acuity,
  Square, HubSpot, Cal.com, Jane);
* ``secret_url`` — the platform cannot sign, so its URL carries a 256-bit secret of the tenant's, kept
  only as its SHA-256; the booking is then fetched back from the platform's API, so a request that
  names a booking the platform does not have changes nothing;
* ``export`` — no webhooks at all: the platform's calendar export (ICS) is polled by the sweeper.

Comparisons of secrets and signatures are constant-time (:func:`same`); nothing a request carries is
ever put into an exception message or a log line.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from calsync.platforms.api import PlatformApi
    from calsync.platforms.source import Source


class Scheme(StrEnum):
    SIGNATURE = "signature"
    SECRET_URL = "secret_url"  # noqa: S105 - the name of a scheme, not a secret
    EXPORT = "export"


class Reason(StrEnum):
    """Why a request was refused: the ``reason`` dimension of ``WebhookRejected`` (a closed set)."""

    SIGNATURE = "signature"  # wrong or missing signature, or a wrong secret URL
    STALE = "stale"  # signed too long ago
    REPLAY = "replay"  # a delivery (or a state) already accepted
    UNKNOWN_SOURCE = "unknown_source"  # no such tenant source, or its credentials are missing
    UNCONFIRMED = "unconfirmed"  # an unsigned callback whose booking the platform does not confirm
    MALFORMED = "malformed"  # authentic, but not something calsync can read
    NOT_FOUND = "not_found"  # no such platform (or route)


class Rejected(Exception):
    """A request calsync refuses. ``reason`` is a fixed code; the request's content is never kept."""

    def __init__(self, reason: Reason, status: int = 401, problems: list[str] | None = None) -> None:
        self.reason = reason
        self.status = status
        self.problems = problems or []
        super().__init__(reason.value + (f": {'; '.join(self.problems)}" if self.problems else ""))


@dataclass(frozen=True)
class WebhookRequest:
    """An HTTP request as the platform sent it: the public URL it called, headers (names lower-cased)
    and the raw body bytes every signature is computed over."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(Reason.MALFORMED, 400, ["body is not UTF-8"]) from None

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise Rejected(Reason.MALFORMED, 400, ["body is not JSON"]) from None

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.text(), keep_blank_values=True))


@dataclass(frozen=True)
class Person:
    """The client of a booking (patient data: rendered only as each clinician's privacy settings allow)."""

    ref: str
    first_name: str | None = None
    last_name: str | None = None
    internal_id: str | None = None


@dataclass(frozen=True)
class Booking:
    """A platform's booking in calsync's terms: its full current state, never a diff.

    ``changed_at`` (and ``version``) are the platform's own ordering key; a platform that keeps no
    modification time leaves it None and the moment calsync read the booking is used instead (each read
    returns the state current at that moment, so read times order correctly too).

    A reschedule that the platform reports as a cancel plus a new booking links the two:
    the new booking names the one it ``continues``; the cancel names the booking it is ``continued_by``
    (an empty string when the platform does not say which) and is then held, not published, so the
    calendar never shows a gap.
    """

    booking_id: str
    status: str  # calsync.domain.contract.AppointmentStatus values
    start: dt.datetime
    end: dt.datetime
    timezone: str | None = None
    staff_ref: str | None = None
    changed_at: dt.datetime | None = None
    version: int | None = None
    all_day: bool = False
    client: Person | None = None
    visit_type: str | None = None
    location_name: str | None = None
    location_address: str | None = None
    telehealth_url: str | None = None
    notes: str | None = None
    deep_link: str | None = None
    continues: str | None = None
    continued_by: str | None = None
    continued_by_ref: str | None = None  # where to fetch the continuing booking, if the platform says


@dataclass(frozen=True)
class Notice:
    """One change a webhook reports: the booking's state, a reference to fetch it by, or a removal.

    ``event_id`` is what de-duplicates deliveries (the platform's event id, or one derived from the signed
    request); without one, calsync de-duplicates on the published state instead. ``sent_at`` is the signed
    moment the staleness check reads.
    """

    kind: str
    event_id: str | None = None
    sent_at: dt.datetime | None = None
    booking: Booking | None = None
    reference: str | None = None
    removed: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """A response body other than calsync's JSON default (Salesforce expects a SOAP acknowledgement)."""

    status: int
    body: str
    content_type: str


class Platform:
    """One booking platform. Subclasses set the class attributes and override what their scheme needs."""

    name: ClassVar[str]
    title: ClassVar[str]
    scheme: ClassVar[Scheme] = Scheme.SIGNATURE
    max_age: ClassVar[dt.timedelta | None] = None
    """How old a signed timestamp may be; None when the platform signs no time."""
    documented: ClassVar[bool] = False
    """True when how the platform proves a request is its own (its signature, or that it documents none)
    and what it sends were checked against the platform's published documentation; False when built to an
    unconfirmed shape (docs/booking-platforms.md lists which)."""
    api_base: ClassVar[str | None] = None
    """The platform's API origin for fetch-backs (a tenant's source may name its own, e.g. a clinic host)."""

    def verify(self, request: WebhookRequest, credentials: Mapping[str, Any], source: Source) -> None:
        """Raises :class:`Rejected` (``signature``) unless the request carries the platform's signature."""
        raise NotImplementedError

    def notices(self, request: WebhookRequest, source: Source) -> list[Notice]:
        """The changes a verified request reports (raise :class:`Rejected` ``malformed`` when unreadable)."""
        raise NotImplementedError

    def fetch(self, api: PlatformApi, reference: str, source: Source) -> Booking | None:
        """The booking's current state from the platform's API; None when the platform has no such booking."""
        raise NotImplementedError

    def export(self, document: bytes, source: Source) -> list[Booking]:
        """The bookings of a calendar export (``export`` platforms)."""
        raise NotImplementedError

    def answer(self, accepted: int) -> Answer | None:
        """The platform's expected acknowledgement, when it is not a plain 2xx with calsync's JSON."""
        return None


# -- verification helpers -----------------------------------------------------------------------------------


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def hmac_sha256(key: str | bytes, *parts: str | bytes) -> bytes:
    """HMAC-SHA256 of the concatenated ``parts`` (text as UTF-8)."""
    mac = hmac.new(_bytes(key), digestmod=hashlib.sha256)
    for part in parts:
        mac.update(_bytes(part))
    return mac.digest()


def hex_digest(digest: bytes) -> str:
    return digest.hex()


def base64_digest(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def same(expected: str, presented: str | None) -> bool:
    """Constant-time equality of a computed value and the one a request presented (any text)."""
    if presented is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), presented.strip().encode("utf-8", "replace"))


def require_signature(expected: str, presented: str | None) -> None:
    if not same(expected, presented):
        raise Rejected(Reason.SIGNATURE)


def credential(credentials: Mapping[str, Any], name: str) -> str:
    """A credential of the tenant's platform secret; a missing one refuses the request (and is logged
    by the caller as a configuration problem, never as the request's fault)."""
    value = credentials.get(name)
    if not isinstance(value, str) or not value:
        raise Rejected(Reason.UNKNOWN_SOURCE, problems=[f"platform secret has no {name}"])
    return value


def path_secret_hash(secret: str) -> str:
    """How a secret URL's token is stored: its SHA-256, hex (the token itself is never kept)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def path_secret_ok(source: Source, presented: str) -> bool:
    """Whether ``presented`` is one of the source's live secret-URL tokens (every stored hash is compared,
    each in constant time, so the answer's timing says nothing about which one matched)."""
    digest = path_secret_hash(presented)
    results = [same(stored, digest) for stored in source.path_secret_hashes]
    return any(results)


def fresh(sent_at: dt.datetime | None, max_age: dt.timedelta | None, now: dt.datetime) -> bool:
    """True unless a signed moment is further than ``max_age`` from ``now`` (either way: a clock far
    ahead is as suspicious as one far behind)."""
    if sent_at is None or max_age is None:
        return True
    return abs(now - sent_at) <= max_age
