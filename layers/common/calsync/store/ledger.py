"""The sync ledger: per (integration, appointment), what the external calendar holds.

Work on one item is serialised by a short lease (a conditional update), so concurrent invocations
never write the same appointment to the same calendar at once.
"""

from __future__ import annotations

import datetime as dt
import time

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from calsync.domain import LedgerEntry, LedgerState
from calsync.errors import LeaseBusyError
from calsync.store._errors import condition_failed, translated
from calsync.store.tables import LedgerItem

DUE_BUCKET = "due"


def _to_domain(item: LedgerItem) -> LedgerEntry:
    return LedgerEntry(
        integration_id=item.integration_id,
        appointment_key=item.appointment_key,
        external_id=item.external_id,
        etag=item.etag,
        synced_order_key=item.synced_order_key,
        content_hash=item.content_hash,
        state=LedgerState(item.state) if item.state else None,
        attempts=int(item.attempts or 0),
        next_attempt_at=dt.datetime.fromtimestamp(item.next_attempt_at, dt.UTC) if item.next_attempt_at else None,
        last_error=item.last_error,
    )


def acquire(integration_id: str, appointment_key: str, owner: str, lease_seconds: int) -> LedgerEntry:
    """Takes the lease on a ledger item (creating it if new) and returns its current content.

    One UpdateItem both takes the lease and reads the item. Raises :class:`LeaseBusyError` when
    another invocation holds an unexpired lease.
    """
    now = int(time.time())
    item = LedgerItem(integration_id, appointment_key)
    free = (
        LedgerItem.lease_expires_at.does_not_exist()
        | (LedgerItem.lease_expires_at < now)
        | (LedgerItem.lease_owner == owner)
    )
    try:
        with translated("UpdateItem"):
            item.update(
                actions=[LedgerItem.lease_owner.set(owner), LedgerItem.lease_expires_at.set(now + lease_seconds)],
                condition=free,
            )
    except UpdateError as error:
        if condition_failed(error):
            raise LeaseBusyError(f"ledger item busy: {integration_id}") from None
        raise
    return _to_domain(item)


def release(entry: LedgerEntry, owner: str) -> None:
    """Writes the outcome of a sync and gives up the lease, only if we still hold it."""
    actions: list[Action] = [
        LedgerItem.attempts.set(entry.attempts),
        LedgerItem.updated_at.set(int(time.time())),
        LedgerItem.lease_owner.remove(),
        LedgerItem.lease_expires_at.remove(),
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
                    LedgerItem.next_attempt_at.set(int(entry.next_attempt_at.timestamp()))]
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


def integrations_holding(appointment_key: str) -> list[str]:
    """Integration ids with a ledger item for this appointment (including removed ones)."""
    with translated("Query"):
        return [item.integration_id for item in LedgerItem.by_appointment.query(appointment_key)]


def get(integration_id: str, appointment_key: str) -> LedgerEntry | None:
    with translated("GetItem"):
        try:
            return _to_domain(LedgerItem.get(integration_id, appointment_key, consistent_read=True))
        except LedgerItem.DoesNotExist:
            return None
