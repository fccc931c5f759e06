"""The accounting of disclosures: one record for every write of rendered appointment content to a calendar
outside calsync (a clinician's Google or Microsoft calendar, a CalDAV server, a feed URL), as HIPAA asks of
whoever discloses protected health information.

A record says when, in which tenant, about which patient (the EHR's client id: never a name), to which
integration and kind of destination, which fields (as the privacy settings applied decided them:
``CalendarEvent.disclosed``) and with what outcome. It never holds the content itself. Records are
appended, never changed (``calsync.store.disclosures``); ``calsync audit export`` turns one patient's
records into the accounting a practice hands over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from calsync.domain.contract import AppointmentChanged
from calsync.domain.event import CalendarEvent
from calsync.domain.model import Integration

NO_CLIENT = "-"
"""The client id of an appointment without a patient (a block, a meeting): recorded all the same."""
PRACTICE = "~practice"
"""The client id under which a tenant's own records are kept (privacy policy changes): they concern every
patient, and each patient's accounting includes them (``calsync.services.accounting``)."""
POLICY_DESTINATION = "policy"
POLICY_CHANGED = "policy_changed"
COLUMNS = ("at", "tenant_id", "client_id", "appointment_id", "integration_id", "destination", "fields", "outcome")
"""The columns of an accounting, in order (CSV header and JSON keys)."""


@dataclass(frozen=True)
class Disclosure:
    at: dt.datetime
    tenant_id: str
    client_id: str
    appointment_id: str
    integration_id: str
    destination: str
    """The kind of calendar written: ``caldav``, ``google``, ``microsoft`` or ``ics`` (a feed URL)."""
    fields: tuple[str, ...]
    """What the write showed, sorted (``calsync.domain.privacy.DISCLOSABLE``)."""
    outcome: str
    """The write's outcome (``calsync.domain.rules.Outcome``): ``written``, or the failure it met (``retry``,
    ``parked``, ``dead``: the content was sent and may have been received)."""

    def as_row(self) -> dict[str, str]:
        return {"at": self.at.astimezone(dt.UTC).isoformat(timespec="milliseconds"), "tenant_id": self.tenant_id,
                "client_id": self.client_id, "appointment_id": self.appointment_id,
                "integration_id": self.integration_id, "destination": self.destination,
                "fields": " ".join(self.fields), "outcome": self.outcome}


def policy_changed(tenant_id: str, version: int, rules: tuple[str, ...], at: dt.datetime) -> Disclosure:
    """The record of a practice privacy policy change: from ``at``, version ``version`` governs what every
    later disclosure shows. ``fields`` names the policy's rules in force (never their values, which may
    name patients)."""
    return Disclosure(at=at, tenant_id=tenant_id, client_id=PRACTICE, appointment_id=f"policy-v{version}",
                      integration_id=NO_CLIENT, destination=POLICY_DESTINATION, fields=tuple(sorted(rules)),
                      outcome=POLICY_CHANGED)


def disclosure(integration: Integration, appointment: AppointmentChanged, event: CalendarEvent, outcome: str,
               at: dt.datetime) -> Disclosure:
    """The record of writing ``event`` (rendered from ``appointment``) to ``integration``'s calendar."""
    return Disclosure(at=at, tenant_id=appointment.tenant_id,
                      client_id=appointment.client.id if appointment.client else NO_CLIENT,
                      appointment_id=appointment.appointment_id, integration_id=integration.integration_id,
                      destination=integration.provider.value, fields=tuple(sorted(event.disclosed)), outcome=outcome)
