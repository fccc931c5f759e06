"""Conflicts between a clinician's busy time and their scheduled appointments, seen from both sides:

* :func:`appointment_changed` — after an ``Appointment Changed`` is applied (``on_appointment_change``):
  the busy blocks overlapping the appointment now, against the conflicts recorded for it. The appointment's
  times are kept while its clinician is watched (``calsync.store.conflicts`` schedules), for the other side;
  for a clinician nobody watches, this costs one query and one read.
* :func:`busy_changed` — after a pull changed busy blocks: the watched clinician's scheduled appointments
  overlapping each new or moved block (one small query per block), against the conflicts recorded for it.
* :func:`track` / :func:`untrack` — a clinician starts or stops being watched by an integration; on the
  first full pull the schedules of their appointments in the window are filled in.

A new overlap is announced as ``Conflict Detected``, one that is over as ``Conflict Resolved`` (the rules:
``calsync.domain.conflicts``). Each is claimed in DynamoDB before it is announced, so two invocations
looking at the same overlap announce it once. calsync never changes an appointment.
"""

from __future__ import annotations

import datetime as dt

from calsync.aws import bus
from calsync.core.observability import Metric, count, logger
from calsync.domain import conflicts as rules
from calsync.domain.busy import BusyStatus, Window
from calsync.domain.contract import AppointmentChanged
from calsync.domain.model import Integration
from calsync.domain.outbound import CONFLICT_DETECTED, CONFLICT_RESOLVED, ConflictDetected, ConflictResolved, Span
from calsync.services.twoway.busy_time import Changed
from calsync.store import appointments, busy
from calsync.store import conflicts as recorded
from calsync.store.conflicts import Recorded, Schedule

TRACK_PAGE = 100
"""Appointments read per page when a clinician starts being watched."""

def appointment_changed(appointment: AppointmentChanged, now: dt.datetime | None = None) -> tuple[int, int]:
    """Conflicts detected and resolved by this change of the appointment."""
    now = now or dt.datetime.now(dt.UTC)
    owner = busy.owner_key(appointment.tenant_id, appointment.practitioner_id)
    kept, known, pieces = recorded.of_appointment(appointment.key)
    watched = rules.blocks(appointment) and recorded.owner_watched(owner)
    overlapping: dict[tuple[str, str], busy.OwnedBlock] = {}
    if watched:
        schedule = Schedule(appointment.key, owner, appointment.start, appointment.end)
        if schedule != kept:
            recorded.keep_schedule(schedule, pieces)
        for block in busy.for_owner(owner, appointment.start, appointment.end):
            overlapping[(block.integration_id, block.block_id)] = block
    elif pieces:
        recorded.drop_schedule(appointment.key, pieces)
    by_pair = {(r.integration_id, r.block_id): r for r in known}
    detected = sum(_detect(appointment.key, appointment.tenant_id, appointment.practitioner_id,
                           (appointment.start, appointment.end), block, now)
                   for pair, block in overlapping.items()
                   if (existing := by_pair.get(pair)) is None or not existing.announced)
    scheduled = rules.blocks(appointment)
    resolved = sum(_resolve(conflict, rules.why_resolved(
        scheduled=scheduled, reassigned=conflict.practitioner_id != appointment.practitioner_id,
        block_present=True, busy_side=False), now) for pair, conflict in by_pair.items() if pair not in overlapping)
    return detected, resolved


def busy_changed(integration: Integration, changed: list[Changed], now: dt.datetime) -> tuple[int, int]:
    """Conflicts detected and resolved by a pull's changes to the integration's busy blocks."""
    owner = busy.owner_key(integration.tenant_id, integration.practitioner_id)
    detected = resolved = 0
    for change in changed:
        block = change.after
        earlier = set(recorded.of_block(integration.integration_id, change.block_id)) if change.before else set()
        overlapping: dict[str, Schedule] = {}
        if block is not None:
            overlapping = {s.appointment_key: s for s in recorded.scheduled(owner, block.start, block.end)
                           if rules.overlaps(s.start, s.end, block.start, block.end)}
            owned = busy.OwnedBlock(integration.integration_id, block.block_id, block.start, block.end, block.status)
            detected += sum(_detect(key, integration.tenant_id, integration.practitioner_id, (s.start, s.end), owned,
                                    now) for key, s in overlapping.items() if key not in earlier)
        for key in earlier - overlapping.keys():
            conflict = recorded.get(key, integration.integration_id, change.block_id)
            if conflict is None:
                continue
            kept, _, _ = recorded.of_appointment(key)
            why = rules.why_resolved(scheduled=kept is not None,
                                     reassigned=kept is not None and kept.owner_key != owner,
                                     block_present=block is not None, busy_side=True)
            resolved += _resolve(conflict, why, now)
    return detected, resolved


def track(integration: Integration, window: Window) -> int:
    """The integration watches its clinician: marks them watched and keeps the times of their scheduled
    appointments in the window (those booked before). Returns how many schedules were written."""
    owner = busy.owner_key(integration.tenant_id, integration.practitioner_id)
    recorded.watch_owner(owner, integration.integration_id)
    kept = {s.appointment_key: s for s in recorded.scheduled(owner, window.start, window.end)}
    written = 0
    start, end = window.start - recorded.PIECE, window.end
    token: dict[str, str] | None = None
    more = True
    while more:  # page by page: a long history is read in bounded pieces
        page, more = appointments.window_page(appointments.practitioner_key(integration.tenant_id,
                                                                            integration.practitioner_id),
                                              start, end, token, TRACK_PAGE)
        if page:
            token = page[-1][1]
        found = appointments.get_many(key for key, _ in page)
        for key, _ in page:
            received = found.get(key)
            if received is None or not start <= received.appointment.start < end:
                continue
            appointment = received.appointment
            schedule = Schedule(appointment.key, owner, appointment.start, appointment.end)
            if rules.blocks(appointment) and kept.get(appointment.key) != schedule:
                recorded.keep_schedule(schedule, 0)
                written += 1
    return written


def untrack(integration: Integration) -> None:
    recorded.unwatch_owner(busy.owner_key(integration.tenant_id, integration.practitioner_id),
                           integration.integration_id)


def _detect(appointment_key: str, tenant_id: str, practitioner_id: str, span: tuple[dt.datetime, dt.datetime],
            block: busy.OwnedBlock, now: dt.datetime) -> int:
    conflict = Recorded(appointment_key, block.integration_id, block.block_id,
                        rules.conflict_id(appointment_key, block.integration_id, block.block_id), tenant_id,
                        practitioner_id, announced=False)
    if not recorded.record(conflict, now, span[1]):
        return 0
    bus.publish(CONFLICT_DETECTED, ConflictDetected(
        conflict_id=conflict.conflict_id, tenant_id=tenant_id, practitioner_id=practitioner_id,
        appointment_id=appointment_key.partition("#")[2], integration_id=block.integration_id,
        block_id=block.block_id, appointment=Span(start=span[0], end=span[1]), busy=Span(start=block.start,
                                                                                        end=block.end),
        busy_status=BusyStatus(block.status), detected_at=now).model_dump(mode="json"))
    recorded.announced(conflict)
    count(Metric.CONFLICT_DETECTED)
    logger.info("conflict detected", extra={"integration_id": block.integration_id,
                                            "conflict_id": conflict.conflict_id})
    return 1


def _resolve(conflict: Recorded, resolution: rules.Resolution, now: dt.datetime) -> int:
    if not recorded.remove(conflict):
        return 0
    bus.publish(CONFLICT_RESOLVED, ConflictResolved(
        conflict_id=conflict.conflict_id, tenant_id=conflict.tenant_id, practitioner_id=conflict.practitioner_id,
        appointment_id=conflict.appointment_key.partition("#")[2], integration_id=conflict.integration_id,
        block_id=conflict.block_id, resolution=resolution, resolved_at=now).model_dump(mode="json"))
    count(Metric.CONFLICT_RESOLVED)
    logger.info("conflict resolved", extra={"integration_id": conflict.integration_id,
                                            "conflict_id": conflict.conflict_id, "resolution": resolution.value})
    return 1
