"""The retry sweeper's bookkeeping: named tasks with a durable cursor, so a run that stops (its budget
spent, its time nearly up, or killed) is resumed by the next one.

Tasks live in the Ledger table under :data:`PARTITION` (see ``tables.SweepTaskItem``). A task is
*claimed* with a short lease, exactly like a ledger item, so overlapping sweeper runs never work on
the same task at once. Scheduling a task again bumps its ``generation``: a run still working on the
previous generation can neither move its cursor nor delete it, so a restart (a second resume, a new
settings change) always starts over from the beginning.

A task named ``<kind>#<subject>`` is also listed in the table's sparse ``due`` index, in the partition of
its kind, sorted by the time it may run: :func:`pending` reads the runnable ones only, so a thousand
probes waiting for tomorrow cost today's run nothing.
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
from calsync.store._paging import one_page
from calsync.store.tables import SweepTaskItem

PARTITION = "~sweeper"
"""Reserved ledger partition: integration ids never start with ``~``."""
LISTING = "~task#"
"""``due`` index partitions of the tasks (``~task#replay#``, ...); the ledger's own retries use ``due``."""
BATCH_GET_LIMIT = 100


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


def listing(name: str) -> str | None:
    """The ``due`` index partition a task is listed in: one per kind (the name up to its first ``#``)."""
    kind, hash_mark, _ = name.partition("#")
    return f"{LISTING}{kind}#" if hash_mark else None


def _when(name: str, not_before: dt.datetime) -> list[Action]:
    """Sets when the task may run, and where the ``due`` index lists it."""
    epoch = _time.epoch(not_before)
    actions: list[Action] = [SweepTaskItem.not_before.set(epoch)]
    bucket = listing(name)
    if bucket is not None:
        actions += [SweepTaskItem.due_bucket.set(bucket), SweepTaskItem.next_attempt_at.set(epoch)]
    return actions


def schedule(name: str, not_before: dt.datetime) -> None:
    """Creates the task, or restarts it from the beginning (cursor cleared, next generation)."""
    with translated("UpdateItem"):
        SweepTaskItem(PARTITION, name).update(actions=[
            *_when(name, not_before),
            SweepTaskItem.generation.set((SweepTaskItem.generation | 0) + 1),
            SweepTaskItem.cursor.remove(),
        ])


def schedule_if_absent(name: str, not_before: dt.datetime) -> bool:
    """Creates the task unless it exists (an already scheduled probe keeps its time). True if created."""
    epoch = _time.epoch(not_before)
    bucket = listing(name)
    item = SweepTaskItem(PARTITION, name, not_before=epoch, generation=1, due_bucket=bucket,
                         next_attempt_at=epoch if bucket is not None else None)
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
    """Tasks named ``prefix…`` (a kind, such as ``replay#``) that may run now and are not leased, earliest
    first: at most ``limit`` read from the ``due`` index and then from the table, however many wait."""
    bucket = listing(prefix)
    if bucket is None:
        raise ValueError(f"tasks are listed by kind (``kind#``), not by {prefix!r}")
    epoch = _time.epoch(now)
    with translated("Query"):
        listed, _ = one_page(SweepTaskItem.due.query(bucket, range_key_condition=SweepTaskItem.next_attempt_at <= epoch,
                                                     page_size=max(1, limit), limit=max(1, limit)), SweepTaskItem)
    names = [item.appointment_key for item in listed]
    found: dict[str, Task] = {}
    for offset in range(0, len(names), BATCH_GET_LIMIT):
        with translated("BatchGetItem"):
            for item in SweepTaskItem.batch_get([(PARTITION, name) for name in names[offset:offset + BATCH_GET_LIMIT]],
                                                consistent_read=True):
                found[item.appointment_key] = _task(item, epoch)
    tasks = [found[name] for name in names if name in found]  # the index lags a deletion by a moment
    return [t for t in tasks if not t.leased and (t.not_before is None or t.not_before <= now)]


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
        actions += _when(task.name, not_before)
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
