"""Appointment fixtures for unit tests. Every patient detail is a distinctive marker string, so a test
can search any output for it."""

from __future__ import annotations

from typing import Any

from calsync.domain.contract import AppointmentChanged

FIRST = "Zebulonqa"
LAST = "Quillfeatherqa"
INTERNAL = "MRN-77Q1"
NOTES = "Notesecretqa about insulin"
VISIT = "Visittypeqa psychotherapy"
PRACTICE = "Practicenameqa Clinic"
LOCATION = "Locationqa Room 9"
ADDRESS = "Addressqa 1 Elm Road"
DEEP_LINK = "https://ehr.example/deeplinkqa/1"
TELEHEALTH = "https://video.example/telehealthqa/1"


def detail(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": 1,
        "tenant_id": "tenant-1",
        "appointment_id": "apt-1",
        "updated_at": "2026-11-23T14:02:10Z",
        "version": 1,
        "status": "scheduled",
        "start": "2026-11-24T09:30:00-05:00",
        "end": "2026-11-24T10:20:00-05:00",
        "timezone": "America/New_York",
        "practitioner_id": "dr-1",
        "practice": {"id": "p-1", "name": PRACTICE},
        "location": {"name": LOCATION, "address": ADDRESS},
        "visit_type": VISIT,
        "telehealth_url": TELEHEALTH,
        "notes": NOTES,
        "deep_link": DEEP_LINK,
        "client": {"id": "c-1", "internal_id": INTERNAL, "first_name": FIRST, "last_name": LAST},
    }
    base.update(overrides)
    return base


def appointment(**overrides: Any) -> AppointmentChanged:
    return AppointmentChanged.model_validate(detail(**overrides))


def envelope(**overrides: Any) -> dict[str, Any]:
    return {"version": "0", "id": "e-1", "detail-type": "Appointment Changed", "source": "ehr.test",
            "account": "123456789012", "time": "2026-11-23T14:02:11Z", "region": "us-east-1",
            "resources": [], "detail": detail(**overrides)}
