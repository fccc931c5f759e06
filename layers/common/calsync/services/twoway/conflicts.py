"""Conflicts between a clinician's busy time and their scheduled appointments, seen from both sides:

* :func:`appointment_changed` — after an ``Appointment Changed`` is applied (``on_appointment_change``):
  the busy blocks overlapping the appointment now, against the conflicts recorded for it;
* :func:`busy_changed` — after a pull changed busy blocks: the appointments overlapping each new or moved
  block, against the conflicts recorded for the block.

A new overlap is announced as ``Conflict Detected``, one that is over as ``Conflict Resolved`` (the rules:
``calsync.domain.conflicts``). Each is claimed in DynamoDB before it is announced (``calsync.store.conflicts``),
so two invocations looking at the same overlap announce it once. calsync never changes an appointment.
"""

from __future__ import annotations

import datetime as dt

from calsync.aws import bus
from calsync.core.observability import Metric, count, logger
from calsync.domain import conflicts as rules
from calsync.domain.busy import LONGEST_BLOCK, BusyBlock
from calsync.domain.contract import AppointmentChanged
from calsync.domain.model import Integration
from calsync.domain.outbound import CONFLICT_DETECTED, CONFLICT_RESOLVED, ConflictDetected, ConflictResolved, Span
from calsync.services.twoway.busy_time import Changed
from calsync.store import appointments, busy
from calsync.store import conflicts as recorded
from calsync.store.conflicts import Recorded


def appointment_changed(appointment: AppointmentChanged, now: dt.datetime | None = None) -> tuple[int, int]:
    """Conflicts detected and resolved by this change of the appointment."""
    now = now or dt.datetime.now(dt.UTC)
    overlapping: dict[tuple[str, str], BusyBlock] = {}
    if rules.blocks(appointment):
        owner = busy.owner_key(appointment.tenant_id, appointment.practitioner_id)
        for stored in busy.for_owner(owner, appointment.start, appointment.end):
            overlapping[(stored.integration_id, stored.block.block_id)] = stored.block
    known = {(r.integration_id, r.block_id): r for r in recorded.of_appointment(appointment.key)}
    detected = sum(_detect(appointment, pair[0], block, now) for pair, block in overlapping.items()
                   if (existing := known.get(pair)) is None or not existing.announced)
    resolved = sum(_resolve(conflict, rules.why_resolved(appointment, conflict.practitioner_id, block_present=True,
                                                         busy_side=False), now)
                   for pair, conflict in known.items() if pair not in overlapping)
    return detected, resolved


def busy_changed(integration: Integration, changed: list[Changed], now: dt.datetime) -> tuple[int, int]:
    """Conflicts detected and resolved by a pull's changes to the integration's busy blocks."""
    if not changed:
        return 0, 0
    new = [change.after for change in changed if change.after is not None]
    scheduled: list[AppointmentChanged] = []
    if new:
        start, end = min(b.start for b in new) - LONGEST_BLOCK, max(b.end for b in new)
        scheduled = [a for a in appointments.for_practitioner(integration.tenant_id, integration.practitioner_id,
                                                              start, end) if rules.blocks(a)]
    detected = resolved = 0
    for change in changed:
        block = change.after
        earlier = set(recorded.of_block(integration.integration_id, change.block_id)) if change.before else set()
        overlapping: dict[str, AppointmentChanged] = {}
        if block is not None:
            overlapping = {a.key: a for a in scheduled if rules.conflicting(a, integration.practitioner_id, block)}
            detected += sum(_detect(appointment, integration.integration_id, block, now)
                            for key, appointment in overlapping.items() if key not in earlier)
        for key in earlier - overlapping.keys():
            conflict = recorded.get(key, integration.integration_id, change.block_id)
            if conflict is not None:
                why = rules.why_resolved(appointments.get_by_key(key), conflict.practitioner_id,
                                         block_present=block is not None, busy_side=True)
                resolved += _resolve(conflict, why, now)
    return detected, resolved


def _detect(appointment: AppointmentChanged, integration_id: str, block: BusyBlock, now: dt.datetime) -> int:
    conflict = Recorded(appointment.key, integration_id, block.block_id,
                        rules.conflict_id(appointment.key, integration_id, block.block_id), appointment.tenant_id,
                        appointment.practitioner_id, announced=False)
    if not recorded.record(conflict, now, appointment.end):
        return 0
    bus.publish(CONFLICT_DETECTED, ConflictDetected(
        conflict_id=conflict.conflict_id, tenant_id=appointment.tenant_id,
        practitioner_id=appointment.practitioner_id, appointment_id=appointment.appointment_id,
        integration_id=integration_id, block_id=block.block_id,
        appointment=Span(start=appointment.start, end=appointment.end), busy=Span(start=block.start, end=block.end),
        busy_status=block.status, detected_at=now).model_dump(mode="json"))
    recorded.announced(conflict)
    count(Metric.CONFLICT_DETECTED)
    logger.info("conflict detected", extra={"integration_id": integration_id, "conflict_id": conflict.conflict_id})
    return 1


def _resolve(conflict: Recorded, resolution: rules.Resolution, now: dt.datetime) -> int:
    if not recorded.remove(conflict):
        return 0
    appointment_id = conflict.appointment_key.partition("#")[2]
    bus.publish(CONFLICT_RESOLVED, ConflictResolved(
        conflict_id=conflict.conflict_id, tenant_id=conflict.tenant_id, practitioner_id=conflict.practitioner_id,
        appointment_id=appointment_id, integration_id=conflict.integration_id, block_id=conflict.block_id,
        resolution=resolution, resolved_at=now).model_dump(mode="json"))
    count(Metric.CONFLICT_RESOLVED)
    logger.info("conflict resolved", extra={"integration_id": conflict.integration_id,
                                            "conflict_id": conflict.conflict_id, "resolution": resolution.value})
    return 1
