"""Conflicts announced to the EHR, and what finding them needs (see ``tables.ConflictItem``).

* Conflicts: one item per (appointment, busy block), so ``Conflict Detected`` goes out once per conflict and
  ``Conflict Resolved`` once when it is over. Announcing is write-then-publish: :func:`record` claims the
  conflict (a conditional put), the caller publishes, then :func:`announced` marks it; a crash between the
  two leaves it unannounced and the next look claims it again (at least once; barring that crash, once).
* Schedules: the times of each scheduled appointment of a watched clinician, in pieces of at most a day,
  so a busy block finds what it overlaps with one small query of the ``scheduled`` index.
* Watch markers: which integrations read a clinician's calendars back, so an appointment change of a
  clinician nobody watches costs one read and nothing more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pynamodb.exceptions import DeleteError, PutError

from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store.tables import ConflictItem, ScheduledIndex

KEEP_AFTER_APPOINTMENT = dt.timedelta(days=30)
SCHEDULE = "~schedule#"
PIECE = dt.timedelta(days=1)
"""Schedule pieces last at most this long: a busy block looks this far back for appointments it overlaps."""
WATCHED = "~watched#"


@dataclass(frozen=True)
class Recorded:
    appointment_key: str
    integration_id: str
    block_id: str
    conflict_id: str
    tenant_id: str
    practitioner_id: str
    announced: bool


@dataclass(frozen=True)
class Schedule:
    """A scheduled appointment of a watched clinician: its key, owner and times."""

    appointment_key: str
    owner_key: str
    start: dt.datetime
    end: dt.datetime


def block_ref(integration_id: str, block_id: str) -> str:
    return f"{integration_id}#{block_id}"


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)  # "...Z" is UTC


def _recorded(item: ConflictItem) -> Recorded:
    integration_id, _, block_id = item.sk.rpartition("#")
    return Recorded(item.pk, integration_id, block_id, item.conflict_id or "", item.tenant_id or "",
                    item.practitioner_id or "", bool(item.announced))


def _schedule(item: ConflictItem) -> Schedule:
    assert item.owner_key and item.appointment_start and item.appointment_end
    return Schedule(item.pk, item.owner_key, _moment(item.appointment_start), _moment(item.appointment_end))


# -- one appointment ------------------------------------------------------------------------------------


def of_appointment(appointment_key: str) -> tuple[Schedule | None, list[Recorded], int]:
    """The appointment's schedule (if kept), its recorded conflicts, and how many schedule pieces it has."""
    with translated("Query"):
        items = list(ConflictItem.query(appointment_key))
    pieces = [item for item in items if item.sk.startswith(SCHEDULE)]
    conflicts = [_recorded(item) for item in items if not item.sk.startswith(SCHEDULE)]
    return (_schedule(pieces[0]) if pieces else None), conflicts, len(pieces)


def keep_schedule(schedule: Schedule, previous_pieces: int) -> None:
    """Stores the appointment's times as pieces of at most :data:`PIECE` (dropping pieces left over)."""
    count = 0
    start = schedule.start
    expires = schedule.end + KEEP_AFTER_APPOINTMENT
    while start < schedule.end:
        stop = min(schedule.end, start + PIECE)
        item = ConflictItem(schedule.appointment_key, f"{SCHEDULE}{count}", owner_key=schedule.owner_key,
                            start_utc=_utc(start), end_utc=_utc(stop), appointment_start=_utc(schedule.start),
                            appointment_end=_utc(schedule.end), expires_at=expires)
        with translated("PutItem"):
            item.save()
        start, count = stop, count + 1
    drop_schedule(schedule.appointment_key, previous_pieces, first=count)


def drop_schedule(appointment_key: str, pieces: int, first: int = 0) -> None:
    for index in range(first, pieces):
        with translated("DeleteItem"):
            ConflictItem(appointment_key, f"{SCHEDULE}{index}").delete()


def scheduled(owner_key: str, start: dt.datetime, end: dt.datetime) -> list[Schedule]:
    """The watched clinician's scheduled appointments overlapping [start, end) (eventually consistent)."""
    condition = ScheduledIndex.start_utc.between(_utc(start - PIECE), _utc(end))
    found: dict[str, Schedule] = {}
    with translated("Query"):
        for item in ConflictItem.scheduled.query(owner_key, range_key_condition=condition):
            if item.end_utc and _moment(item.end_utc) > start and _moment(item.start_utc or "") < end:
                found[item.pk] = _schedule(item)
    return list(found.values())


# -- conflicts ------------------------------------------------------------------------------------------


def of_block(integration_id: str, block_id: str) -> list[str]:
    """Appointment keys with a conflict on this block (the ``by_block`` index; eventually consistent)."""
    with translated("Query"):
        return [item.pk for item in ConflictItem.by_block.query(block_ref(integration_id, block_id))]


def get(appointment_key: str, integration_id: str, block_id: str) -> Recorded | None:
    with translated("GetItem"):
        try:
            return _recorded(ConflictItem.get(appointment_key, block_ref(integration_id, block_id),
                                              consistent_read=True))
        except ConflictItem.DoesNotExist:
            return None


def record(conflict: Recorded, now: dt.datetime, appointment_end: dt.datetime) -> bool:
    """Claims a conflict for announcement: True when it is new (or was never announced)."""
    ref = block_ref(conflict.integration_id, conflict.block_id)
    item = ConflictItem(conflict.appointment_key, ref, block_ref=ref, conflict_id=conflict.conflict_id,
                        tenant_id=conflict.tenant_id, practitioner_id=conflict.practitioner_id,
                        detected_at=_time.epoch(now), expires_at=appointment_end + KEEP_AFTER_APPOINTMENT)
    try:
        with translated("PutItem"):
            item.save(condition=ConflictItem.pk.does_not_exist() | ConflictItem.announced.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            return False
        raise
    return True


def announced(conflict: Recorded) -> None:
    with translated("UpdateItem"):
        ConflictItem(conflict.appointment_key, block_ref(conflict.integration_id, conflict.block_id)).update(
            actions=[ConflictItem.announced.set(1)], condition=ConflictItem.pk.exists())


def remove(conflict: Recorded) -> bool:
    """Deletes a conflict that is over; True when it had been announced (its resolution is to be
    announced too), False when it was never announced or someone else removed it first."""
    item = ConflictItem(conflict.appointment_key, block_ref(conflict.integration_id, conflict.block_id))
    try:
        with translated("DeleteItem"):
            item.delete(condition=ConflictItem.announced == 1)
    except DeleteError as error:
        if not condition_failed(error):
            raise
        with translated("DeleteItem"):
            item.delete()  # never announced (or gone already): nothing to resolve
        return False
    return True


# -- who watches a clinician ----------------------------------------------------------------------------


def watch_owner(owner_key: str, integration_id: str) -> None:
    with translated("UpdateItem"):
        ConflictItem(WATCHED + owner_key, "-").update(actions=[ConflictItem.integrations.add({integration_id})])


def unwatch_owner(owner_key: str, integration_id: str) -> None:
    item = ConflictItem(WATCHED + owner_key, "-")
    with translated("UpdateItem"):
        item.update(actions=[ConflictItem.integrations.delete({integration_id})])
    if not item.integrations:
        try:
            with translated("DeleteItem"):
                item.delete(condition=ConflictItem.integrations.does_not_exist())
        except DeleteError as error:
            if not condition_failed(error):
                raise  # else another integration started watching meanwhile: the marker stays


def owner_watched(owner_key: str) -> bool:
    with translated("GetItem"):
        try:
            return bool(ConflictItem.get(WATCHED + owner_key, "-").integrations)
        except ConflictItem.DoesNotExist:
            return False
