"""From a platform's booking to a full-state ``Appointment Changed`` detail.

Appointment ids are ``<platform>-<booking id>`` (:func:`appointment_id`), so the same booking always
lands on the same calendar event whichever webhook, fetch-back or poll reports it. The detail is
validated by :class:`calsync.domain.contract.AppointmentChanged`, the published contract, before it goes anywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync.core.errors import ContractError
from calsync.domain.contract import _ID_PATTERN, AppointmentChanged, AppointmentStatus, parse_detail
from calsync.platforms.base import Booking, Reason, Rejected
from calsync.platforms.source import Source

SCHEMA_VERSION = 1
"""The contract version platform changes are published in: a booking carries nothing version 2 added (an
EHR's ``sensitive`` mark, a patient's ``opted_out``), so version 1 says exactly what is known."""
_ID_MAX = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9._:@-]")


class Unmapped(Exception):
    """The source maps no practitioner for this booking's staff member (and has no default)."""


@contextmanager
def readable() -> Iterator[None]:
    """Turns any failure to read a platform's payload (missing key, wrong type, bad time) into a
    ``malformed`` refusal that names nothing of the content."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise Rejected(Reason.MALFORMED, 400, [f"unreadable payload ({type(error).__name__})"]) from None


def shaped_id(prefix: str, raw: str) -> str:
    """``<prefix>-<raw>`` when that is a valid contract id; otherwise the unsafe characters replaced and
    a digest of ``raw`` appended, so two different raw ids never share a shaped one."""
    candidate = f"{prefix}-{raw}"
    if re.fullmatch(_ID_PATTERN, candidate):
        return candidate
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]
    room = _ID_MAX - len(prefix) - len(digest) - 2
    return f"{prefix}-{_UNSAFE.sub('_', raw)[:room]}-{digest}"


def appointment_id(platform: str, booking_id: str) -> str:
    return shaped_id(platform, booking_id)


def _zone(candidate: str | None, fallback: str) -> str:
    if candidate:
        try:
            ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            return fallback
        return candidate
    return fallback


def _https(url: str | None) -> str | None:
    return url if url and url.startswith("https://") and not re.search(r"\s", url) else None


def _text(value: str | None, limit: int) -> str | None:
    value = (value or "").strip()
    return value[:limit] if value else None


def detail(booking: Booking, source: Source, appointment: str, read_at: dt.datetime) -> AppointmentChanged:
    """The validated ``Appointment Changed`` detail for ``booking`` under ``appointment`` (its id).

    Raises :class:`Unmapped` when no practitioner is known for the booking's staff member, and
    :class:`Rejected` (``malformed``, naming the contract's field paths only) when the platform's state
    breaks the contract, e.g. an end before the start.
    """
    practitioner = source.practitioner(booking.staff_ref)
    if practitioner is None:
        raise Unmapped(source.platform)
    client = None
    if booking.client is not None:
        person = booking.client
        client = {"id": shaped_id(f"{source.platform}-client", person.ref),
                  "internal_id": _text(person.internal_id, 64), "first_name": _text(person.first_name, 100),
                  "last_name": _text(person.last_name, 100)}
    location = None
    if booking.location_name or booking.location_address:
        location = {"name": _text(booking.location_name, 200), "address": _text(booking.location_address, 500)}
    raw = {
        "schema_version": SCHEMA_VERSION,
        "tenant_id": source.tenant_id,
        "appointment_id": appointment,
        "updated_at": (booking.changed_at or read_at).isoformat(),
        "version": booking.version,
        "status": booking.status,
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        "timezone": _zone(booking.timezone, source.timezone),
        "all_day": booking.all_day,
        "practitioner_id": practitioner,
        "practice": {"id": source.practice_id, "name": source.practice_name},
        "location": location,
        "visit_type": _text(booking.visit_type, 200),
        "telehealth_url": _https(booking.telehealth_url),
        "notes": _text(booking.notes, 4000),
        "deep_link": _https(booking.deep_link),
        "client": client,
    }
    try:
        return parse_detail(_without_none(raw), read_at)  # read_at is the receiving clock
    except ContractError as error:
        raise Rejected(Reason.MALFORMED, 422, [f"{path}: {why}" for path, why in error.problems]) from None


def _without_none(value: object) -> object:
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    return value


def removed(appointment: AppointmentChanged, at: dt.datetime, status: AppointmentStatus) -> AppointmentChanged:
    """The same appointment, cancelled or deleted at ``at`` (the platform reported the removal only by
    reference, so the last known state supplies everything else)."""
    return appointment.model_copy(update={"status": status, "updated_at": at, "version": None})


def state_digest(appointment: AppointmentChanged) -> str:
    """What a state is, without when it was read: equal digests mean nothing changed."""
    body = appointment.model_dump(mode="json", exclude={"updated_at", "version"}, exclude_none=True)
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def as_event_detail(appointment: AppointmentChanged) -> dict[str, object]:
    return appointment.model_dump(mode="json", exclude_none=True)
