"""The sync ledger: per (integration, appointment), what the external calendar holds.

Work on one item is serialised by a short lease (a conditional update), so concurrent invocations
never write the same appointment to the same calendar at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from calsync.core.errors import LeaseBusyError
from calsync.domain.ledger import LedgerEntry, LedgerState
from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store._paging import one_page
from calsync.store.tables import LedgerItem

DUE_BUCKET = "due"
BATCH_GET_LIMIT = 100


def _to_domain(item: LedgerItem, now: int | None = None) -> LedgerEntry:
    """``now`` (epoch seconds) judges a lease found on a read: unexpired is ``leased``, expired means its
    holder died before releasing, so the calendar may hold a write the ledger does not record."""
    lease = item.lease_expires_at
    expired_lease = lease is not None and now is not None and lease < now and item.lease_owner is not None
    return LedgerEntry(
        integration_id=item.integration_id,
        appointment_key=item.appointment_key,
        external_id=item.external_id,
        etag=item.etag,
        synced_order_key=item.synced_order_key,
        content_hash=item.content_hash,
        state=LedgerState(item.state) if item.state else None,
        attempts=int(item.attempts or 0),
        next_attempt_at=_time.moment(item.next_attempt_at),
        last_error=item.last_error,
        uncertain=bool(item.uncertain) or bool(item.abandoned_lease) or expired_lease,
        leased=lease is not None and now is not None and lease >= now and item.lease_owner is not None,
    )


def acquire(integration_id: str, appointment_key: str, owner: str, lease_seconds: int,
            now: dt.datetime | None = None) -> LedgerEntry:
    """Takes the lease on a ledger item (creating it if new) and returns its current content.

    One UpdateItem both takes the lease and reads the item. Raises :class:`LeaseBusyError` when
    another invocation holds an unexpired lease. A lease still present (expired) was never released:
    its holder died, perhaps after writing to the calendar, so the entry comes back ``uncertain``.
    """
    epoch = _time.epoch(now)
    item = LedgerItem(integration_id, appointment_key)
    free = (
        LedgerItem.lease_expires_at.does_not_exist()
        | (LedgerItem.lease_expires_at < epoch)
        | (LedgerItem.lease_owner == owner)
    )
    try:
        with translated("UpdateItem"):
            item.update(
                actions=[LedgerItem.abandoned_lease.set(LedgerItem.lease_expires_at | 0),
                         LedgerItem.lease_owner.set(owner), LedgerItem.lease_expires_at.set(epoch + lease_seconds)],
                condition=free,
            )
    except UpdateError as error:
        if condition_failed(error):
            raise LeaseBusyError(f"ledger item busy: {integration_id}") from None
        raise
    return _to_domain(item)


def release(entry: LedgerEntry, owner: str, now: dt.datetime | None = None) -> None:
    """Writes the outcome of a sync and gives up the lease, only if we still hold it."""
    actions: list[Action] = [
        LedgerItem.attempts.set(entry.attempts),
        LedgerItem.updated_at.set(_time.epoch(now)),
        LedgerItem.lease_owner.remove(),
        LedgerItem.lease_expires_at.remove(),
        LedgerItem.abandoned_lease.remove(),
        LedgerItem.uncertain.set(1) if entry.uncertain else LedgerItem.uncertain.remove(),
    ]
    for attribute, value in (
        (LedgerItem.state, entry.state.value if entry.state else None),
        (LedgerItem.external_id, entry.external_id),
        (LedgerItem.etag, entry.etag),
        (LedgerItem.synced_order_key, entry.synced_order_key),
        (LedgerItem.content_hash, entry.content_hash),
        (LedgerItem.last_error, entry.last_error),
    ):
        actions.append(attribute.set(value) if value is not None else attribute.remove())
    if entry.state is LedgerState.RETRY and entry.next_attempt_at is not None:
        actions += [LedgerItem.due_bucket.set(DUE_BUCKET),
                    LedgerItem.next_attempt_at.set(_time.epoch(entry.next_attempt_at))]
    else:
        actions += [LedgerItem.due_bucket.remove(), LedgerItem.next_attempt_at.remove()]
    try:
        with translated("UpdateItem"):
            LedgerItem(entry.integration_id, entry.appointment_key).update(
                actions=actions, condition=LedgerItem.lease_owner == owner
            )
    except UpdateError as error:
        if condition_failed(error):
            raise LeaseBusyError(f"lease lost before release: {entry.integration_id}") from None
        raise


def get(integration_id: str, appointment_key: str, now: dt.datetime | None = None) -> LedgerEntry | None:
    with translated("GetItem"):
        try:
            return _to_domain(LedgerItem.get(integration_id, appointment_key, consistent_read=True), _time.epoch(now))
        except LedgerItem.DoesNotExist:
            return None


def get_many(keys: Iterable[tuple[str, str]], now: dt.datetime | None = None) -> dict[tuple[str, str], LedgerEntry]:
    """The entries that exist among ``(integration_id, appointment_key)`` pairs (BatchGetItem)."""
    wanted = list(dict.fromkeys(keys))
    found: dict[tuple[str, str], LedgerEntry] = {}
    for offset in range(0, len(wanted), BATCH_GET_LIMIT):
        with translated("BatchGetItem"):
            for item in LedgerItem.batch_get(wanted[offset:offset + BATCH_GET_LIMIT], consistent_read=True):
                found[(item.integration_id, item.appointment_key)] = _to_domain(item, _time.epoch(now))
    return found


def due(now: dt.datetime, limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` ``(integration_id, appointment_key)`` pairs whose retry is due, earliest first
    (the sparse ``due`` index holds only items waiting for a retry)."""
    condition = LedgerItem.next_attempt_at <= _time.epoch(now)
    with translated("Query"):
        return [(item.integration_id, item.appointment_key)
                for item in LedgerItem.due.query(DUE_BUCKET, range_key_condition=condition, limit=limit)]


def page(integration_id: str, after: str | None, limit: int, states: Sequence[LedgerState] = (),
         now: dt.datetime | None = None) -> tuple[list[LedgerEntry], str | None]:
    """One page of an integration's ledger, in appointment-key order, from just after ``after``.

    ``states`` filters (e.g. parked and dead work); ``limit`` bounds the items read, not those returned.
    Returns the entries and the key to resume after (None at the end of the partition).
    """
    condition = LedgerItem.state.is_in(*(state.value for state in states)) if states else None
    start = {"integration_id": {"S": integration_id}, "appointment_key": {"S": after}} if after else None
    with translated("Query"):
        items, last = one_page(LedgerItem.query(integration_id, filter_condition=condition, last_evaluated_key=start,
                                                consistent_read=True, page_size=max(1, limit)), LedgerItem)
    return [_to_domain(item, _time.epoch(now)) for item in items], (last["appointment_key"]["S"] if last else None)


def count(integration_id: str) -> int:
    """How many items an integration's ledger holds (a counting Query: no item is returned)."""
    with translated("Query"):
        return int(LedgerItem.count(integration_id))


def mark_uncertain(integration_id: str, appointment_key: str) -> bool:
    """Makes the next sync of an existing item write whatever the ledger records (an operator's forced
    resync: the calendar may have been edited by hand). False when there is no such item."""
    try:
        with translated("UpdateItem"):
            LedgerItem(integration_id, appointment_key).update(actions=[LedgerItem.uncertain.set(1)],
                                                               condition=LedgerItem.integration_id.exists())
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True
