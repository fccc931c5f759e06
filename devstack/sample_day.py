"""A realistic day of EHR changes for the demo and the end-to-end tests, with what each clinician's
calendar must show afterwards — written out by hand, independent of calsync's own rendering.

Two clinicians at Main Street Family Practice (America/New_York), appointments tomorrow:
creates, reschedules, a cancellation, a reassignment from one clinician to the other, an all-day
block, a no-show, a duplicate delivery, an out-of-order stale update and one malformed event.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from calsync.domain.model import ClientDisplay, PrivacySettings
from devstack.stack import EHR_SOURCE

TENANT = "northside-health"
ZONE = ZoneInfo("America/New_York")
PRACTICE = {"id": "main-street", "name": "Main Street Family Practice"}
SOURCE = EHR_SOURCE

OKAFOR, LINDQVIST = "dr-okafor", "dr-lindqvist"
# Dr Okafor sees initials and visit types; Dr Lindqvist keeps the defaults (internal ID only).
PRIVACY = {
    OKAFOR: PrivacySettings(client_display=ClientDisplay.INITIALS, show_visit_type=True),
    LINDQVIST: PrivacySettings(),
}
CLIENTS = {
    "rivera": {"id": "cl-5521", "internal_id": "A-5521", "first_name": "Jordan", "last_name": "Rivera"},
    "chen": {"id": "cl-6120", "internal_id": "A-6120", "first_name": "Mei", "last_name": "Chen"},
    "osei": {"id": "cl-7001", "internal_id": "A-7001", "first_name": "Kwame", "last_name": "Osei"},
    "novak": {"id": "cl-7342", "internal_id": "A-7342", "first_name": "Petra", "last_name": "Novak"},
    "haddad": {"id": "cl-8119", "internal_id": "A-8119", "first_name": "Samir", "last_name": "Haddad"},
}
MALFORMED_APPOINTMENT = "apt-999"
NOTES = {"rivera": "Discuss A1C results", "chen": "Anxiety follow-up, sleep", "osei": "Knee pain after fall",
         "novak": "Prenatal check", "haddad": "Medication review"}


@dataclass(frozen=True)
class Expected:
    """One event a calendar must hold: local start and end (HH:MM, or a date for all-day) and title."""

    start: str
    end: str
    summary: str


def day() -> dt.date:
    return (dt.datetime.now(ZONE) + dt.timedelta(days=1)).date()


def _at(hhmm: str) -> str:
    """Tomorrow at HH:MM in the practice's zone (full ISO timestamps pass through)."""
    if "T" in hhmm:
        return hhmm
    hour, minute = map(int, hhmm.split(":"))
    return dt.datetime.combine(day(), dt.time(hour, minute), ZONE).isoformat()


class _Clock:
    """EHR-side ``updated_at`` values that increase through the scenario."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)

    def tick(self) -> str:
        self.now += dt.timedelta(seconds=37)
        return self.now.isoformat().replace("+00:00", "Z")


def _detail(clock: _Clock, tenant: str, appointment_id: str, practitioner: str, client: str, start: str, end: str,
            version: int, visit_type: str, status: str = "scheduled", **extra: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "schema_version": 1, "tenant_id": tenant, "appointment_id": appointment_id,
        "updated_at": clock.tick(), "version": version, "status": status,
        "start": _at(start), "end": _at(end), "timezone": "America/New_York",
        "practitioner_id": practitioner, "practice": PRACTICE,
        "location": {"name": "Room 4", "address": "12 Main Street, Springfield"},
        "visit_type": visit_type, "notes": NOTES[client],
        "deep_link": f"https://app.example-ehr.com/appointments/{appointment_id}",
        "client": CLIENTS[client],
    }
    detail.update(extra)
    return detail


def envelope(detail: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge PutEvents entry for one change (the bus name is added by the sender)."""
    return {"Source": SOURCE, "DetailType": "Appointment Changed", "Detail": json.dumps(detail)}


def changes(tenant: str = TENANT) -> list[dict[str, Any]]:
    """The day's PutEvents entries for ``tenant``, in the order the EHR sends them."""
    c = _Clock()
    all_day_start = dt.datetime.combine(day(), dt.time(0), ZONE)
    details: list[dict[str, Any]] = [  # in the order the EHR made the changes
        _detail(c, tenant, "apt-101", OKAFOR, "rivera", "09:00", "09:30", 1, "Follow-up"),
        _detail(c, tenant, "apt-102", OKAFOR, "chen", "09:30", "10:20", 1, "Therapy session"),
        _detail(c, tenant, "apt-103", OKAFOR, "osei", "11:00", "11:40", 1, "New patient"),
        _detail(c, tenant, "apt-201", LINDQVIST, "novak", "08:30", "09:15", 1, "Prenatal visit"),
        _detail(c, tenant, "apt-202", LINDQVIST, "haddad", "13:00", "13:30", 1, "Medication review"),
        # an all-day block on Dr Lindqvist's calendar
        _detail(c, tenant, "apt-203", LINDQVIST, "haddad", all_day_start.isoformat(),
                (all_day_start + dt.timedelta(days=1)).isoformat(), 1, "Home visits", all_day=True),
        # rescheduled twice
        _detail(c, tenant, "apt-102", OKAFOR, "chen", "10:00", "10:50", 2, "Therapy session"),
        _detail(c, tenant, "apt-102", OKAFOR, "chen", "10:30", "11:20", 3, "Therapy session"),
        # cancelled by the patient
        _detail(c, tenant, "apt-103", OKAFOR, "osei", "11:00", "11:40", 2, "New patient", status="cancelled"),
        # reassigned from Dr Okafor to Dr Lindqvist and moved
        _detail(c, tenant, "apt-101", LINDQVIST, "rivera", "14:00", "14:30", 2, "Follow-up"),
        # marked as a no-show afterwards: stays on the calendar
        _detail(c, tenant, "apt-201", LINDQVIST, "novak", "08:30", "09:15", 2, "Prenatal visit", status="no_show"),
    ]
    entries = [envelope(d) for d in details]
    entries[6], entries[7] = entries[7], entries[6]  # the second reschedule overtakes the first: v2 is stale
    entries.insert(4, envelope(details[3]))  # a duplicate delivery of apt-201 v1
    malformed = dict(details[4], appointment_id=MALFORMED_APPOINTMENT, timezone="Mars/Olympus")
    entries.append(envelope(malformed))
    return entries


def expected_calendars() -> dict[str, set[Expected]]:
    """What each clinician's calendar shows once the day has been processed."""
    d = day().isoformat()
    nxt = (day() + dt.timedelta(days=1)).isoformat()
    return {
        OKAFOR: {
            Expected("10:30", "11:20", "[Main Street Family Practice] M.C. · Therapy session"),
        },
        LINDQVIST: {
            Expected("08:30", "09:15", "[Main Street Family Practice] #A-7342"),
            Expected("13:00", "13:30", "[Main Street Family Practice] #A-8119"),
            Expected(d, nxt, "[Main Street Family Practice] #A-8119"),
            Expected("14:00", "14:30", "[Main Street Family Practice] #A-5521"),
        },
    }

