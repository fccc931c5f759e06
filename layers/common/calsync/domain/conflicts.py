"""Conflicts: a clinician's busy time overlapping a scheduled EHR appointment of theirs.

The EHR stays the source of truth: calsync never moves or cancels anything because of a conflict. It says
so once (``Conflict Detected``), and once more when the overlap is gone (``Conflict Resolved``): the
appointment moved, was cancelled or reassigned, or the busy time moved or went. One conflict is one pair
(appointment, busy block), named by :func:`conflict_id`, so consumers can de-duplicate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from enum import StrEnum

from calsync.domain.contract import AppointmentChanged, AppointmentStatus


class Resolution(StrEnum):
    """Why a conflict is over."""

    APPOINTMENT_MOVED = "appointment_moved"
    APPOINTMENT_CANCELLED = "appointment_cancelled"
    APPOINTMENT_REASSIGNED = "appointment_reassigned"
    BUSY_TIME_MOVED = "busy_time_moved"
    BUSY_TIME_REMOVED = "busy_time_removed"


def overlaps(start: dt.datetime, end: dt.datetime, other_start: dt.datetime, other_end: dt.datetime) -> bool:
    """Half-open intervals: back to back is not an overlap."""
    return start < other_end and other_start < end


def blocks(appointment: AppointmentChanged) -> bool:
    """Whether the appointment holds the clinician's time (only scheduled ones do)."""
    return appointment.status is AppointmentStatus.SCHEDULED


def conflict_id(appointment_key: str, integration_id: str, block_id: str) -> str:
    """A stable name for one (appointment, busy block) conflict: 32 hex characters."""
    raw = f"{appointment_key}\x1f{integration_id}\x1f{block_id}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def why_resolved(*, scheduled: bool, reassigned: bool, block_present: bool, busy_side: bool) -> Resolution:
    """Why a conflict that no longer holds is over: the appointment is no longer scheduled, belongs to another
    clinician, the busy time went, or one of the two moved (``busy_side``: found by a pull)."""
    if not scheduled:
        return Resolution.APPOINTMENT_CANCELLED
    if reassigned:
        return Resolution.APPOINTMENT_REASSIGNED
    if not block_present:
        return Resolution.BUSY_TIME_REMOVED
    return Resolution.BUSY_TIME_MOVED if busy_side else Resolution.APPOINTMENT_MOVED
