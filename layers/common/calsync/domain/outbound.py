"""What calsync publishes back to the EHR about a clinician's own calendars (two-way and pull-only sync),
on its bus with ``source: calsync``:

    External Busy Time Changed   busy blocks added, changed and removed on a watched calendar
    Conflict Detected            busy time overlaps a scheduled appointment (once per conflict)
    Conflict Resolved            that overlap is gone
    External Edit Reverted       a clinician moved, changed or deleted an event calsync keeps; it was restored

Each is a pydantic model exported as JSON Schema into ``schemas/`` (``python -m calsync.cli.schema``; a test
keeps the files equal). None carries patient details; busy blocks carry titles and attendees only when the
clinician opted in.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from calsync.domain.busy import BusyStatus
from calsync.domain.conflicts import Resolution

BUSY_TIME_CHANGED = "External Busy Time Changed"
CONFLICT_DETECTED = "Conflict Detected"
CONFLICT_RESOLVED = "Conflict Resolved"
EDIT_REVERTED = "External Edit Reverted"

OrderingKey = Annotated[str, Field(
    pattern=r"^[0-9]{20}#[0-9]{8}$",
    description="Sorts like the block's changes: keep the block with the greatest key, deletions included")]
Opaque = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="Opaque, stable reference (32 hex)")]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BusyTime(_Event):
    start: AwareDatetime = Field(description="UTC")
    end: AwareDatetime = Field(description="UTC, exclusive")
    status: BusyStatus
    all_day: bool = False
    start_date: dt.date | None = Field(default=None, description="All-day: the first day")
    end_date: dt.date | None = Field(default=None, description="All-day: the day after the last (exclusive)")
    title: str | None = Field(default=None, description="Only when the clinician shares titles")
    attendees: list[str] | None = Field(default=None, description="Only when the clinician shares attendees")


class BlockChange(_Event):
    block_id: Opaque
    ordering_key: OrderingKey
    deleted: bool = Field(description="True: the busy time is gone (then busy is null)")
    busy: BusyTime | None = None


class ExternalBusyTimeChanged(_Event):
    """``detail`` of ``External Busy Time Changed`` (schema version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="ExternalBusyTimeChanged",
                              json_schema_extra={"$id": "https://schemas.calsync.dev/external-busy-time-changed/"
                                                        "v1.json"})

    schema_version: Literal[1] = 1
    tenant_id: str
    practitioner_id: str
    integration_id: str
    provider: str
    changed_at: AwareDatetime
    blocks: list[BlockChange] = Field(min_length=1)


class Span(_Event):
    start: AwareDatetime
    end: AwareDatetime


class ConflictDetected(_Event):
    """``detail`` of ``Conflict Detected`` (schema version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="ConflictDetected",
                              json_schema_extra={"$id": "https://schemas.calsync.dev/conflict-detected/v1.json"})

    schema_version: Literal[1] = 1
    conflict_id: Opaque
    tenant_id: str
    practitioner_id: str
    appointment_id: str
    integration_id: str
    block_id: Opaque
    appointment: Span
    busy: Span
    busy_status: BusyStatus
    detected_at: AwareDatetime


class ConflictResolved(_Event):
    """``detail`` of ``Conflict Resolved`` (schema version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="ConflictResolved",
                              json_schema_extra={"$id": "https://schemas.calsync.dev/conflict-resolved/v1.json"})

    schema_version: Literal[1] = 1
    conflict_id: Opaque
    tenant_id: str
    practitioner_id: str
    appointment_id: str
    integration_id: str
    block_id: Opaque
    resolution: Resolution
    resolved_at: AwareDatetime


class ExternalEditReverted(_Event):
    """``detail`` of ``External Edit Reverted`` (schema version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="ExternalEditReverted",
                              json_schema_extra={"$id": "https://schemas.calsync.dev/external-edit-reverted/"
                                                        "v1.json"})

    schema_version: Literal[1] = 1
    tenant_id: str
    practitioner_id: str
    integration_id: str
    provider: str
    appointment_id: str
    edit: Literal["moved", "changed", "deleted"]
    reverted_at: AwareDatetime


PUBLISHED: dict[str, tuple[str, type[BaseModel]]] = {
    BUSY_TIME_CHANGED: ("external-busy-time-changed.v1.json", ExternalBusyTimeChanged),
    CONFLICT_DETECTED: ("conflict-detected.v1.json", ConflictDetected),
    CONFLICT_RESOLVED: ("conflict-resolved.v1.json", ConflictResolved),
    EDIT_REVERTED: ("external-edit-reverted.v1.json", ExternalEditReverted),
}
"""detail-type → (schema file in ``schemas/``, model)."""
