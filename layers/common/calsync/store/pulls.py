"""Each integration's pull state and its sync positions (see ``tables.PullItem``).

Coalescing: a notification asks for a pull (:func:`request`); only the first since the last pull started
sets ``queued_at`` and gets to send a job, the others find a job waiting and add nothing. A pull takes the
integration's lease (:func:`acquire`), which also clears ``queued_at`` and ``again``; a request that comes
while it runs sets ``again``, so the pull runs once more before it lets go (:func:`finish`). While a pull
holds the lease, its ``next_pull_at`` is the lease's end: a pull that dies is picked up by the sweeper.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from calsync.domain.guard import Hold
from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store.tables import PullItem

STATE = "state"
CURSOR_PREFIX = "cursor#"
DUE_BUCKET = "due"
QUEUED_STALE = dt.timedelta(minutes=5)
"""A job queued longer ago than this is presumed lost: the next request queues another."""


@dataclass(frozen=True)
class PullState:
    integration_id: str
    full: bool = False
    renew: bool = False
    next_pull_at: dt.datetime | None = None
    last_pulled_at: dt.datetime | None = None


@dataclass(frozen=True)
class Cursor:
    """Where one watched calendar's reading continues, and what is known of it."""

    calendar: str
    cursor: str | None = None
    window_end: dt.datetime | None = None
    blocks: int = 0
    hold: Hold | None = None


def _state(item: PullItem) -> PullState:
    return PullState(item.integration_id, bool(item.full), bool(item.renew), _time.moment(item.next_pull_at),
                     _time.moment(item.last_pulled_at))


def request(integration_id: str, now: dt.datetime, *, full: bool = False, renew: bool = False) -> bool:
    """Asks for a pull; True when the caller is to send the job (none is waiting), False when one is."""
    flags: list[Action] = []
    if full:
        flags.append(PullItem.full.set(1))
    if renew:
        flags.append(PullItem.renew.set(1))
    free = PullItem.queued_at.does_not_exist() | (PullItem.queued_at < _time.epoch(now - QUEUED_STALE))
    try:
        with translated("UpdateItem"):
            PullItem(integration_id, STATE).update(
                actions=[PullItem.queued_at.set(_time.epoch(now)), PullItem.again.set(1), *flags], condition=free)
    except UpdateError as error:
        if not condition_failed(error):
            raise
        if flags:  # the waiting job will see them
            with translated("UpdateItem"):
                PullItem(integration_id, STATE).update(actions=[PullItem.again.set(1), *flags])
        return False
    return True


def unqueue(integration_id: str) -> None:
    """The job was not sent (or was taken by a pull already running): the next request queues one."""
    with translated("UpdateItem"):
        PullItem(integration_id, STATE).update(actions=[PullItem.queued_at.remove()])


def acquire(integration_id: str, owner: str, now: dt.datetime, lease_seconds: int) -> PullState | None:
    """Takes the integration's pull lease (None: another pull holds it) and clears the queued job."""
    epoch = _time.epoch(now)
    item = PullItem(integration_id, STATE)
    free = (PullItem.lease_expires_at.does_not_exist() | (PullItem.lease_expires_at < epoch)
            | (PullItem.lease_owner == owner))
    try:
        with translated("UpdateItem"):
            item.update(actions=[PullItem.lease_owner.set(owner), PullItem.lease_expires_at.set(epoch + lease_seconds),
                                 PullItem.next_pull_at.set(epoch + lease_seconds), PullItem.due_bucket.set(DUE_BUCKET),
                                 PullItem.queued_at.remove(), PullItem.again.remove()],
                        condition=free)
    except UpdateError as error:
        if condition_failed(error):
            return None
        raise
    return _state(item)


def finish(integration_id: str, owner: str, now: dt.datetime, next_pull_at: dt.datetime,
           error: str | None = None) -> PullState | None:
    """Gives up the lease and says when the next pull is due — unless a pull was asked for meanwhile: then
    the lease is kept and the state to pull again with is returned. None when done (or the lease was lost)."""
    done: list[Action] = [
        PullItem.lease_owner.remove(), PullItem.lease_expires_at.remove(), PullItem.full.remove(),
        PullItem.renew.remove(), PullItem.last_pulled_at.set(_time.epoch(now)),
        PullItem.next_pull_at.set(_time.epoch(next_pull_at)), PullItem.due_bucket.set(DUE_BUCKET),
        PullItem.last_error.set(error) if error else PullItem.last_error.remove()]
    try:
        with translated("UpdateItem"):
            PullItem(integration_id, STATE).update(
                actions=done, condition=(PullItem.lease_owner == owner) & PullItem.again.does_not_exist())
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
    else:
        return None
    item = PullItem(integration_id, STATE)
    try:
        with translated("UpdateItem"):
            item.update(actions=[PullItem.again.remove(), PullItem.queued_at.remove()],
                        condition=PullItem.lease_owner == owner)
    except UpdateError as exc:
        if condition_failed(exc):
            return None  # lost the lease: whoever holds it now pulls
        raise
    return _state(item)


def let_go(integration_id: str, owner: str, now: dt.datetime) -> None:
    """Gives up the lease with the next pull due now (a request is still pending)."""
    try:
        with translated("UpdateItem"):
            PullItem(integration_id, STATE).update(
                actions=[PullItem.lease_owner.remove(), PullItem.lease_expires_at.remove(),
                         PullItem.next_pull_at.set(_time.epoch(now)), PullItem.due_bucket.set(DUE_BUCKET)],
                condition=PullItem.lease_owner == owner)
    except UpdateError as error:
        if not condition_failed(error):
            raise


def schedule(integration_id: str, at: dt.datetime, *, full: bool = False) -> None:
    """Makes a pull due at ``at`` (the sweeper queues it), creating the state if new."""
    actions: list[Action] = [PullItem.next_pull_at.set(_time.epoch(at)), PullItem.due_bucket.set(DUE_BUCKET)]
    if full:
        actions.append(PullItem.full.set(1))
    with translated("UpdateItem"):
        PullItem(integration_id, STATE).update(actions=actions)


def due(now: dt.datetime, limit: int) -> list[str]:
    """Integrations whose next pull is due, earliest first."""
    with translated("Query"):
        return [item.integration_id for item in PullItem.due.query(
            DUE_BUCKET, range_key_condition=PullItem.next_pull_at <= _time.epoch(now), limit=limit)]


def state(integration_id: str) -> PullState | None:
    with translated("GetItem"):
        try:
            return _state(PullItem.get(integration_id, STATE, consistent_read=True))
        except PullItem.DoesNotExist:
            return None


# -- sync positions -----------------------------------------------------------------------------------


def _cursor(item: PullItem) -> Cursor:
    hold = None
    if item.hold:
        held = json.loads(item.hold)
        hold = Hold(frozenset(held["removals"]), _time.moment(held["since"]), bool(held.get("confirmed")))
    return Cursor(item.calendar or "", item.cursor, _time.moment(item.window_end), int(item.blocks or 0), hold)


def cursors(integration_id: str) -> dict[str, Cursor]:
    """The integration's sync positions, by calendar."""
    with translated("Query"):
        found = [_cursor(item) for item in PullItem.query(
            integration_id, PullItem.item.startswith(CURSOR_PREFIX), consistent_read=True)]
    return {cursor.calendar: cursor for cursor in found}


def save_cursor(integration_id: str, tag: str, cursor: Cursor) -> None:
    hold = None
    if cursor.hold is not None:
        hold = json.dumps({"removals": sorted(cursor.hold.removals), "since": _time.epoch(cursor.hold.since),
                           "confirmed": cursor.hold.confirmed})
    item = PullItem(integration_id, CURSOR_PREFIX + tag, calendar=cursor.calendar, cursor=cursor.cursor,
                    window_end=_time.epoch(cursor.window_end) if cursor.window_end else None, blocks=cursor.blocks,
                    hold=hold)
    with translated("PutItem"):
        item.save()


def drop_cursor(integration_id: str, tag: str) -> None:
    with translated("DeleteItem"):
        PullItem(integration_id, CURSOR_PREFIX + tag).delete()


def confirm_holds(integration_id: str) -> int:
    """An operator confirms the removals held on the integration's calendars; returns how many holds."""
    confirmed = 0
    for tag_item in PullItem.query(integration_id, PullItem.item.startswith(CURSOR_PREFIX), consistent_read=True):
        if tag_item.hold:
            held = json.loads(tag_item.hold)
            held["confirmed"] = True
            with translated("UpdateItem"):
                PullItem(integration_id, tag_item.item).update(actions=[PullItem.hold.set(json.dumps(held))])
            confirmed += 1
    return confirmed


def forget(integration_id: str) -> None:
    """Drops the pull state and every sync position (the integration stopped watching)."""
    with translated("Query"):
        items = list(PullItem.query(integration_id))
    for item in items:
        with translated("DeleteItem"):
            item.delete()
