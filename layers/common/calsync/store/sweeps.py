"""The retry sweeper's bookkeeping: named tasks with a durable cursor, so a run that stops (its budget
spent, its time nearly up, or killed) is resumed by the next one.

Tasks live in the Ledger table under :data:`PARTITION` (see ``tables.SweepTaskItem``). A task is
*claimed* with a short lease, exactly like a ledger item, so overlapping sweeper runs never work on
the same task at once. Scheduling a task again bumps its ``generation``: a run still working on the
previous generation can neither move its cursor nor delete it, so a restart (a second resume, a new
settings change) always starts over from the beginning.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.update import Action

from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store.tables import SweepTaskItem

PARTITION = "~sweeper"
"""Reserved ledger partition: integration ids never start with ``~``."""


@dataclass(frozen=True)
class Task:
    name: str
    cursor: dict[str, Any] | None
    not_before: dt.datetime | None
    generation: int
    leased: bool


def _task(item: SweepTaskItem, now: int) -> Task:
    return Task(
        name=item.appointment_key,
        cursor=json.loads(item.cursor) if item.cursor else None,
        not_before=_time.moment(item.not_before),
        generation=int(item.generation or 0),
        leased=item.lease_expires_at is not None and item.lease_expires_at >= now,
    )


def schedule(name: str, not_before: dt.datetime) -> None:
    """Creates the task, or restarts it from the beginning (cursor cleared, next generation)."""
    with translated("UpdateItem"):
        SweepTaskItem(PARTITION, name).update(actions=[
            SweepTaskItem.not_before.set(_time.epoch(not_before)),
            SweepTaskItem.generation.set((SweepTaskItem.generation | 0) + 1),
            SweepTaskItem.cursor.remove(),
        ])


def schedule_if_absent(name: str, not_before: dt.datetime) -> bool:
    """Creates the task unless it exists (an already scheduled probe keeps its time). True if created."""
    item = SweepTaskItem(PARTITION, name, not_before=_time.epoch(not_before), generation=1)
    try:
        with translated("PutItem"):
            item.save(condition=SweepTaskItem.appointment_key.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            return False
        raise
    return True


def get(name: str, now: dt.datetime) -> Task | None:
    with translated("GetItem"):
        try:
            return _task(SweepTaskItem.get(PARTITION, name, consistent_read=True), _time.epoch(now))
        except SweepTaskItem.DoesNotExist:
            return None


def pending(now: dt.datetime, prefix: str, limit: int = 100) -> list[Task]:
    """Tasks named ``prefix…`` that may run now (due and not leased), at most ``limit``."""
    epoch = _time.epoch(now)
    with translated("Query"):
        items = SweepTaskItem.query(PARTITION, SweepTaskItem.appointment_key.startswith(prefix),
                                    consistent_read=True)
        tasks = [_task(item, epoch) for item in items]
    return [t for t in tasks if not t.leased and (t.not_before is None or t.not_before <= now)][:limit]


def claim(task: Task, owner: str, now: dt.datetime, lease_seconds: int) -> bool:
    """Takes the task's lease. False when another run holds it."""
    epoch = _time.epoch(now)
    free = SweepTaskItem.lease_expires_at.does_not_exist() | (SweepTaskItem.lease_expires_at < epoch)
    try:
        with translated("UpdateItem"):
            SweepTaskItem(PARTITION, task.name).update(
                actions=[SweepTaskItem.lease_owner.set(owner),
                         SweepTaskItem.lease_expires_at.set(epoch + lease_seconds)],
                condition=free & SweepTaskItem.appointment_key.exists(),
            )
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def _held(task: Task, owner: str) -> Any:
    return (SweepTaskItem.lease_owner == owner) & (SweepTaskItem.generation == task.generation)


def release(task: Task, owner: str, now: dt.datetime, cursor: dict[str, Any] | None,
            not_before: dt.datetime | None = None) -> bool:
    """Records where the task resumes and gives up the lease. Only the generation that was claimed
    may move the cursor: a task rescheduled meanwhile keeps its fresh start (then False)."""
    actions: list[Action] = [
        SweepTaskItem.lease_owner.remove(),
        SweepTaskItem.lease_expires_at.remove(),
        SweepTaskItem.updated_at.set(_time.epoch(now)),
        SweepTaskItem.cursor.set(json.dumps(cursor, sort_keys=True)) if cursor else SweepTaskItem.cursor.remove(),
    ]
    if not_before is not None:
        actions.append(SweepTaskItem.not_before.set(_time.epoch(not_before)))
    try:
        with translated("UpdateItem"):
            SweepTaskItem(PARTITION, task.name).update(actions=actions, condition=_held(task, owner))
    except UpdateError as error:
        if not condition_failed(error):
            raise
        _drop_lease(task.name, owner)
        return False
    return True


def finish(task: Task, owner: str) -> bool:
    """Deletes a completed task, unless it was rescheduled meanwhile (then only the lease goes)."""
    try:
        with translated("DeleteItem"):
            SweepTaskItem(PARTITION, task.name).delete(condition=_held(task, owner))
    except DeleteError as error:
        if not condition_failed(error):
            raise
        _drop_lease(task.name, owner)
        return False
    return True


def cancel(name: str) -> None:
    """Deletes the task whatever its state (e.g. the integration was disconnected)."""
    with translated("DeleteItem"):
        SweepTaskItem(PARTITION, name).delete()


def _drop_lease(name: str, owner: str) -> None:
    try:
        with translated("UpdateItem"):
            SweepTaskItem(PARTITION, name).update(
                actions=[SweepTaskItem.lease_owner.remove(), SweepTaskItem.lease_expires_at.remove()],
                condition=SweepTaskItem.lease_owner == owner,
            )
    except UpdateError as error:
        if not condition_failed(error):
            raise
