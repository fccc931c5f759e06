"""Privacy rendering: the one place that decides what a clinician's calendar shows.

``render(appointment, settings, policy=…, destination=…, now=…)`` is pure. The practice's policy
(``calsync.domain.policy``: sensitive visits, opted-out patients, a detail horizon, retention of past
visits, caps per destination) first takes away what it must — never adds — and the clinician's settings
decide the rest. Every provider (CalDAV, Google, Microsoft, the ICS feed) writes exactly what it returns,
so a field that is switched off cannot leak through any of them. The event also says which of the
appointment's fields it discloses (``CalendarEvent.disclosed``, from the same decisions that built it): the
disclosure audit records that, never the content.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from calsync.domain.contract import AppointmentChanged, Client
from calsync.domain.event import CalendarEvent
from calsync.domain.model import ClientDisplay, PrivacySettings
from calsync.domain.policy import DestinationKind, PrivacyPolicy, fill_template, restrict

DEFAULT_TITLE = "Appointment"
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


def render(appointment: AppointmentChanged, settings: PrivacySettings, *, policy: PrivacyPolicy | None = None,
           destination: DestinationKind = DestinationKind.CONSUMER,
           now: dt.datetime | None = None) -> CalendarEvent | None:
    """The calendar event for ``appointment`` under the practice's ``policy`` (for this ``destination``, at
    ``now``) and the clinician's ``settings``; None when it must not be on a calendar."""
    if appointment.status.removes_event:
        return None
    restricted = restrict(settings, policy, appointment, destination, now or dt.datetime.now(dt.UTC))
    settings = restricted.settings

    disclosed = {TIME}
    client = _client(appointment.client, settings.client_display)
    who = client[0] if client else None
    if client:
        disclosed.add(CLIENT_FIELDS[client[1]])
    visit = appointment.visit_type if settings.show_visit_type else None
    practice = appointment.practice.name if settings.show_practice_name else None
    location = None
    if settings.show_location and appointment.location is not None:
        location = ", ".join(p for p in (appointment.location.name, appointment.location.address) if p) or None

    if restricted.busy_only:
        title = restricted.busy_title
    elif restricted.title_template is not None:
        title = fill_template(restricted.title_template, {"client": who, "visit_type": visit, "practice": practice,
                                                          "location": location}) or DEFAULT_TITLE
    else:
        title_parts = [part for part in (who, visit) if part]
        title = " · ".join(title_parts) if title_parts else DEFAULT_TITLE
    if practice and restricted.title_template is None:
        title = f"[{practice}] {title}"

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
    if appointment.status.value != "scheduled" and not restricted.busy_only:
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
        reminder_minutes=settings.reminder_minutes,
    )


def content_hash(event: CalendarEvent | None) -> str:
    """A stable digest of what a calendar should hold; equal hashes mean nothing to write."""
    if event is None:
        return "absent"
    canonical: dict[str, object] = {
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
    if event.reminder_minutes is not None:  # absent when unset, so events synced before reminders keep their hash
        canonical["reminder_minutes"] = event.reminder_minutes
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]
