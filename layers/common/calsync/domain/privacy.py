"""Privacy rendering: the one place that decides what a clinician's calendar shows.

``render(appointment, settings)`` is pure. Every provider (CalDAV, Google, Microsoft, the ICS feed)
writes exactly what it returns, so a field that is switched off cannot leak through any of them. The
event also says which of the appointment's fields it discloses (``CalendarEvent.disclosed``, from the same
decisions that built it): the disclosure audit records that, never the content.

``rendered(appointment, settings, now)`` adds the one rule that depends on time: a visit that ended more
than ``past_busy_after_days`` ago shows only "Busy" (a tenant's retention policy for past events).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from calsync.domain.contract import AppointmentChanged, Client
from calsync.domain.event import CalendarEvent
from calsync.domain.model import ClientDisplay, PrivacySettings

DEFAULT_TITLE = "Appointment"
BUSY_TITLE = "Busy"
FOOTER = "Managed by calsync from the EHR: change it there; edits made here are overwritten."

TIME = "time"
"""Disclosed by every event: start, end, time zone (the fact that the clinician has a visit then)."""
CLIENT_FIELDS = {ClientDisplay.INTERNAL_ID: "client_internal_id", ClientDisplay.INITIALS: "client_initials",
                 ClientDisplay.FIRST_NAME: "client_first_name", ClientDisplay.FULL_NAME: "client_full_name"}
DISCLOSABLE = (TIME, *CLIENT_FIELDS.values(), "visit_type", "practice_name", "location", "telehealth_link", "notes",
               "deep_link", "status")
"""Every name :attr:`CalendarEvent.disclosed` may hold (the audit's vocabulary)."""


def _client(client: Client | None, display: ClientDisplay) -> tuple[str, ClientDisplay] | None:
    """The client as the clinician chose to see them and the form it took (initials fall back to the
    internal id when there are no names), or None when nothing should be shown."""
    if client is None or display is ClientDisplay.NONE:
        return None
    first, last = client.first_name, client.last_name
    fallback = (f"#{client.internal_id}", ClientDisplay.INTERNAL_ID) if client.internal_id else None
    match display:
        case ClientDisplay.INTERNAL_ID:
            return fallback
        case ClientDisplay.INITIALS:
            letters = [name[0].upper() for name in (first, last) if name]
            return (".".join(letters) + ".", display) if letters else fallback
        case ClientDisplay.FIRST_NAME:
            return (first, display) if first else fallback
        case ClientDisplay.FULL_NAME:
            full = " ".join(name for name in (first, last) if name)
            return (full, display) if full else fallback
    return None  # pragma: no cover - exhaustive match


def client_label(client: Client | None, display: ClientDisplay) -> str | None:
    """The client as the clinician chose to see them, or None when nothing should be shown."""
    shown = _client(client, display)
    return shown[0] if shown else None


def render(appointment: AppointmentChanged, settings: PrivacySettings) -> CalendarEvent | None:
    """The calendar event for ``appointment`` under ``settings``; None when it must not be on a calendar."""
    if appointment.status.removes_event:
        return None

    disclosed = {TIME}
    client = _client(appointment.client, settings.client_display)
    who = client[0] if client else None
    if client:
        disclosed.add(CLIENT_FIELDS[client[1]])
    visit = appointment.visit_type if settings.show_visit_type else None
    practice = appointment.practice.name if settings.show_practice_name else None

    title_parts = [part for part in (who, visit) if part]
    title = " · ".join(title_parts) if title_parts else DEFAULT_TITLE
    if practice:
        title = f"[{practice}] {title}"

    location = None
    if settings.show_location and appointment.location is not None:
        location = ", ".join(p for p in (appointment.location.name, appointment.location.address) if p) or None

    lines: list[str] = []
    disclosed.update(name for name, value in (("visit_type", visit), ("practice_name", practice),
                                              ("location", location)) if value)
    if who:
        lines.append(f"Client: {who}")
    if visit:
        lines.append(f"Visit type: {visit}")
    if practice:
        lines.append(f"Practice: {practice}")
    if location:
        lines.append(f"Location: {location}")
    if settings.show_telehealth_link and appointment.telehealth_url:
        lines.append(f"Join video visit: {appointment.telehealth_url}")
        disclosed.add("telehealth_link")
    if settings.show_notes and appointment.notes:
        lines.append(f"Notes: {appointment.notes}")
        disclosed.add("notes")
    if settings.show_deep_link and appointment.deep_link:
        lines.append(f"Open in the EHR: {appointment.deep_link}")
        disclosed.add("deep_link")
    if appointment.status.value != "scheduled":
        lines.append(f"Status: {appointment.status.value.replace('_', ' ')}")
        disclosed.add("status")
    lines.append(FOOTER)

    return CalendarEvent(
        summary=title,
        description="\n".join(lines),
        location=location,
        start=appointment.start,
        end=appointment.end,
        timezone=appointment.timezone,
        all_day=appointment.all_day,
        url=appointment.deep_link if settings.show_deep_link else None,
        private=settings.private_visibility,
        disclosed=frozenset(disclosed),
    )


def busy_only(appointment: AppointmentChanged) -> CalendarEvent | None:
    """The event that keeps only the time: "Busy", no client, no location, no links (None when the
    appointment must not be on a calendar at all)."""
    if appointment.status.removes_event:
        return None
    return CalendarEvent(summary=BUSY_TITLE, description=FOOTER, location=None, start=appointment.start,
                         end=appointment.end, timezone=appointment.timezone, all_day=appointment.all_day,
                         private=True, disclosed=frozenset({TIME}))


def past_retention(appointment: AppointmentChanged, settings: PrivacySettings, now: dt.datetime) -> bool:
    """Whether the visit ended long enough ago that the policy for past events applies."""
    days = settings.past_busy_after_days
    return days is not None and appointment.end + dt.timedelta(days=days) <= now


def rendered(appointment: AppointmentChanged, settings: PrivacySettings, now: dt.datetime) -> CalendarEvent | None:
    """What a calendar shows for ``appointment`` at ``now``: :func:`render`, or :func:`busy_only` once the
    visit is past the policy's number of days."""
    return busy_only(appointment) if past_retention(appointment, settings, now) else render(appointment, settings)


def content_hash(event: CalendarEvent | None) -> str:
    """A stable digest of what a calendar should hold; equal hashes mean nothing to write."""
    if event is None:
        return "absent"
    canonical = {
        "summary": event.summary,
        "description": event.description,
        "location": event.location,
        "start": event.start.isoformat(),
        "end": event.end.isoformat(),
        "timezone": event.timezone,
        "all_day": event.all_day,
        "url": event.url,
        "private": event.private,
    }
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]
