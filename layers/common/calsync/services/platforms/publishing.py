"""Publishing a platform's booking: reschedule lineage, held cancels, removals, de-duplication on the
published state, and the ``Appointment Changed`` event on the calsync bus.

Events carry source ``ehr.platform.<platform>`` (the changes rule takes every ``ehr.`` source), so
downstream nothing tells a platform's change from an EHR's.

Reschedules reported as a cancel plus a new booking (Calendly) move one appointment: the new booking is
published under the original appointment's id (a lineage record maps it), and the cancel is held, never
published; ``calsync.services.platforms.fetching.resolve_hold`` settles a hold whose new booking never came.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from calsync.aws import bus
from calsync.core.observability import Metric, count, logger
from calsync.domain.contract import DETAIL_TYPE, AppointmentChanged, AppointmentStatus
from calsync.platforms import mapping
from calsync.platforms.base import Booking, Platform
from calsync.platforms.source import Source
from calsync.store import appointments, platform_intake
from calsync.store.platform_intake import DELIVERY_RETENTION, RECORD_RETENTION, Kind, Record

SOURCE_PREFIX = "ehr.platform."
HOLD_WINDOW = dt.timedelta(minutes=10)


class Result(StrEnum):
    PUBLISHED = "published"
    REPLAY = "replay"
    HELD = "held"
    DEFERRED = "deferred"
    IGNORED = "ignored"
    UNMAPPED = "unmapped"
    FAILED = "failed"



def event_source(platform: str) -> str:
    return f"{SOURCE_PREFIX}{platform}"



def failed(platform: Platform, source: Source, error: Exception) -> Result:
    """A fetch-back that cannot succeed (credentials refused, the platform's answer unreadable)."""
    count(Metric.PLATFORM_FETCH_DEAD)
    logger.error("platform fetch-back failed for good", extra={
        "platform": platform.name, "tenant_id": source.tenant_id, "error": type(error).__name__,
        "reason": getattr(error, "reason", None)})
    return Result.FAILED


def _lineage(source: Source, platform: str, booking_id: str) -> Record | None:
    return platform_intake.get(source.tenant_id, platform, Kind.LINEAGE, booking_id)


def appointment_for(platform: Platform, source: Source, booking: Booking, now: dt.datetime) -> str:
    """The appointment a booking is published under, following (and extending) reschedule lineage."""
    own = _lineage(source, platform.name, booking.booking_id)
    if booking.continues:
        linked = own if own is not None and own.body else _lineage(source, platform.name, booking.continues)
        root = str(linked.body["appointment_id"]) if linked is not None and linked.body else (
            mapping.appointment_id(platform.name, booking.continues))
        platform_intake.put(source.tenant_id, platform.name, Kind.LINEAGE, booking.booking_id,
                            body={"appointment_id": root, "confirmed": True}, keep=RECORD_RETENTION, now=now)
        platform_intake.take(source.tenant_id, platform.name, Kind.HELD, booking.continues)
        return root
    if own is not None and own.body:
        return str(own.body["appointment_id"])
    return mapping.appointment_id(platform.name, booking.booking_id)


def publish_booking(platform: Platform, source: Source, booking: Booking, now: dt.datetime, *,
                    state: bool) -> Result:
    """Maps and publishes one booking's state (or holds it, for a reschedule's cancel). ``state``:
    de-duplicate on the published state (the delivery had no event id)."""
    appointment = appointment_for(platform, source, booking, now)
    try:
        change = mapping.detail(booking, source, appointment, now)
    except mapping.Unmapped:
        count(Metric.PLATFORM_CHANGE_UNMAPPED)
        logger.warning("platform booking has no practitioner mapping", extra={
            "platform": platform.name, "tenant_id": source.tenant_id, "staff_ref": booking.staff_ref})
        return Result.UNMAPPED
    if booking.continued_by is not None:
        return hold(platform, source, booking, change, now)
    return publish_change(platform, source, change, now, state=state)


def publish_change(platform: Platform, source: Source, change: AppointmentChanged, now: dt.datetime, *,
                   state: bool) -> Result:
    previous: str | None = None
    digest = mapping.state_digest(change)
    if state:
        record = platform_intake.get(source.tenant_id, platform.name, Kind.STATE, change.appointment_id)
        previous = record.digest if record is not None else None
        if previous == digest or not platform_intake.replace_digest(
                source.tenant_id, platform.name, change.appointment_id, digest, previous, now):
            return Result.REPLAY
    try:
        bus.publish(DETAIL_TYPE, mapping.as_event_detail(change), source=event_source(platform.name))
    except BaseException:
        if state:
            platform_intake.delete(source.tenant_id, platform.name, Kind.STATE, change.appointment_id)
        raise
    count(Metric.PLATFORM_CHANGE_PUBLISHED)
    return Result.PUBLISHED


def hold(platform: Platform, source: Source, booking: Booking, change: AppointmentChanged,
          now: dt.datetime) -> Result:
    """A reschedule's cancel: never published while its new booking can still come."""
    successor = booking.continued_by
    if successor:
        known = _lineage(source, platform.name, successor)
        if known is not None and known.body and known.body.get("confirmed"):
            return Result.HELD  # the new booking came first and already moved the appointment
        platform_intake.put(source.tenant_id, platform.name, Kind.LINEAGE, successor,
                            body={"appointment_id": change.appointment_id, "confirmed": False},
                            keep=RECORD_RETENTION, now=now)
    platform_intake.put(source.tenant_id, platform.name, Kind.HELD, booking.booking_id,
                        body={"detail": mapping.as_event_detail(change), "successor": successor,
                              "successor_ref": booking.continued_by_ref},
                        due=now + HOLD_WINDOW, attempts=0, keep=DELIVERY_RETENTION, now=now)
    count(Metric.PLATFORM_RESCHEDULE_HELD)
    return Result.HELD


def remove(platform: Platform, source: Source, reference: str, now: dt.datetime, status: AppointmentStatus, *,
            state: bool) -> Result:
    """The platform reports a booking gone (by reference only): the last published state, removed."""
    lineage = _lineage(source, platform.name, reference)
    appointment = str(lineage.body["appointment_id"]) if lineage is not None and lineage.body else (
        mapping.appointment_id(platform.name, reference))
    stored = appointments.get(source.tenant_id, appointment)
    if stored is None or stored.status.removes_event:
        return Result.IGNORED
    return publish_change(platform, source, mapping.removed(stored, max(now, stored.updated_at), status), now,
                          state=state)
