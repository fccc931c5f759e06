"""Conflicts announced to the EHR (see ``tables.ConflictItem``): one item per (appointment, busy block), so
``Conflict Detected`` goes out once per conflict and ``Conflict Resolved`` once when it is over.

Announcing is write-then-publish: :func:`record` claims the conflict (a conditional put), the caller
publishes, then :func:`announced` marks it. A crash between the two leaves it unannounced, and the next
look claims it again, so it is announced at least once and, barring that crash, exactly once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pynamodb.exceptions import DeleteError, PutError

from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store.tables import ConflictItem

KEEP_AFTER_APPOINTMENT = dt.timedelta(days=30)


@dataclass(frozen=True)
class Recorded:
    appointment_key: str
    integration_id: str
    block_id: str
    conflict_id: str
    tenant_id: str
    practitioner_id: str
    announced: bool


def block_key(integration_id: str, block_id: str) -> str:
    return f"{integration_id}#{block_id}"


def _domain(item: ConflictItem) -> Recorded:
    integration_id, _, block_id = item.block_key.rpartition("#")
    return Recorded(item.appointment_key, integration_id, block_id, item.conflict_id, item.tenant_id,
                    item.practitioner_id, bool(item.announced))


def of_appointment(appointment_key: str) -> list[Recorded]:
    with translated("Query"):
        return [_domain(item) for item in ConflictItem.query(appointment_key, consistent_read=True)]


def of_block(integration_id: str, block_id: str) -> list[str]:
    """Appointment keys with a conflict on this block (the ``by_block`` index; eventually consistent)."""
    with translated("Query"):
        return [item.appointment_key for item in ConflictItem.by_block.query(block_key(integration_id, block_id))]


def get(appointment_key: str, integration_id: str, block_id: str) -> Recorded | None:
    with translated("GetItem"):
        try:
            return _domain(ConflictItem.get(appointment_key, block_key(integration_id, block_id),
                                            consistent_read=True))
        except ConflictItem.DoesNotExist:
            return None


def record(conflict: Recorded, now: dt.datetime, appointment_end: dt.datetime) -> bool:
    """Claims a conflict for announcement: True when it is new (or was never announced)."""
    item = ConflictItem(conflict.appointment_key, block_key(conflict.integration_id, conflict.block_id),
                        conflict_id=conflict.conflict_id, tenant_id=conflict.tenant_id,
                        practitioner_id=conflict.practitioner_id, detected_at=_time.epoch(now),
                        expires_at=appointment_end + KEEP_AFTER_APPOINTMENT)
    try:
        with translated("PutItem"):
            item.save(condition=ConflictItem.appointment_key.does_not_exist() | ConflictItem.announced.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            return False
        raise
    return True


def announced(conflict: Recorded) -> None:
    with translated("UpdateItem"):
        ConflictItem(conflict.appointment_key, block_key(conflict.integration_id, conflict.block_id)).update(
            actions=[ConflictItem.announced.set(1)], condition=ConflictItem.appointment_key.exists())


def remove(conflict: Recorded) -> bool:
    """Deletes a conflict that is over; True when it had been announced (its resolution is to be
    announced too), False when it was never announced or someone else removed it first."""
    item = ConflictItem(conflict.appointment_key, block_key(conflict.integration_id, conflict.block_id))
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
