"""Appointment snapshots: the latest state of each appointment, guarded by its ordering key."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from calsync.domain.contract import AppointmentChanged, appointment_key, parse_stored
from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store._paging import one_page
from calsync.store.tables import AppointmentItem, ByPracticeIndex, ByPractitionerIndex

RETENTION_AFTER_END = dt.timedelta(days=400)
BATCH_GET_LIMIT = 100
CHANGED_SLOT = dt.timedelta(minutes=10)
"""The ``by_changed_day`` index groups appointments by the 10-minute slot their latest change was received
in (the attribute keeps its name from when the groups were days): the gap sweep reads the slots of the
minutes it examines, never a whole day again and again."""
CHANGED_SLOT_SHARDS = 4
"""Partitions per slot: the changes of one busy slot spread over this many."""


@dataclass(frozen=True)
class Received:
    """A stored snapshot, when its change was received, and the integrations holding an event for it."""

    appointment: AppointmentChanged
    received_at: dt.datetime
    holders: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Saved:
    """A change that was stored: the integrations that hold (or held) an event for its appointment."""

    holders: frozenset[str]


def practitioner_key(tenant_id: str, practitioner_id: str) -> str:
    return f"{tenant_id}#{practitioner_id}"


def practice_key(tenant_id: str, practice_id: str) -> str:
    return f"{tenant_id}#{practice_id}"


def utc_key(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def month_key(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m")


def changed_slot(moment: dt.datetime) -> dt.datetime:
    """The start of the slot ``moment`` falls in (UTC)."""
    utc = moment.astimezone(dt.UTC)
    step = int(CHANGED_SLOT.total_seconds())
    return dt.datetime.fromtimestamp(int(utc.timestamp()) // step * step, dt.UTC)


def _slot_name(slot: dt.datetime) -> str:
    return slot.strftime("%Y-%m-%dT%H:%M")


def changed_bucket(pk: str, received: dt.datetime) -> str:
    """The ``by_changed_day`` partition of appointment ``pk`` changed at ``received``: ``YYYY-MM-DDTHH:MM#shard``."""
    return f"{_slot_name(changed_slot(received))}#{zlib.crc32(pk.encode()) % CHANGED_SLOT_SHARDS}"


def changed_buckets(start: dt.datetime, end: dt.datetime) -> list[str]:
    """Every partition of every slot that overlaps [start, end), oldest slot first."""
    buckets: list[str] = []
    slot = changed_slot(start)
    while slot < end:
        buckets += [f"{_slot_name(slot)}#{shard}" for shard in range(CHANGED_SLOT_SHARDS)]
        slot += CHANGED_SLOT
    return buckets


def save_if_newer(appointment: AppointmentChanged, received_at: dt.datetime | None = None) -> Saved | None:
    """Stores the snapshot unless a newer one is stored already; None for a stale change, else the
    integrations registered as holding an event for it (:func:`hold`), read in the same write.

    An equal ordering key is accepted (a duplicate rewrites the same content), so a redelivered change
    whose first attempt crashed midway still reaches the calendars. An update rather than a put, so the
    holders survive every change of the appointment.
    """
    received = received_at or dt.datetime.now(dt.UTC)
    pk = appointment_key(appointment.tenant_id, appointment.appointment_id)
    item = AppointmentItem(pk)
    actions: list[Action] = [getattr(AppointmentItem, name).set(value)
                             for name, value in _values(appointment, received).items()]
    newer_or_equal = AppointmentItem.pk.does_not_exist() | (AppointmentItem.order_key <= appointment.order_key)
    try:
        with translated("UpdateItem"):
            item.update(actions=actions, condition=newer_or_equal)
    except UpdateError as error:
        if condition_failed(error):
            return None
        raise
    return Saved(frozenset(item.holders or ()))


def _values(appointment: AppointmentChanged, received: dt.datetime) -> dict[str, Any]:
    """Every attribute a stored snapshot has, but its holders."""
    pk = appointment_key(appointment.tenant_id, appointment.appointment_id)
    return {
        "order_key": appointment.order_key,
        "practitioner_key": practitioner_key(appointment.tenant_id, appointment.practitioner_id),
        "practice_key": practice_key(appointment.tenant_id, appointment.practice.id),
        "start_utc": utc_key(appointment.start),
        "start_month": month_key(appointment.start),
        "status": appointment.status.value,
        "snapshot": _pack(appointment),
        "received_at": _time.epoch(received),
        "changed_day": changed_bucket(pk, received),
        "expires_at": appointment.end + RETENTION_AFTER_END,
    }


def load(snapshots: Iterable[tuple[AppointmentChanged, dt.datetime]]) -> int:
    """Stores snapshots as received at the given moments, without the ordering check, 25 a request: a
    tenant's history imported in bulk (the backfill of each calendar then brings it up to date). Returns
    how many."""
    stored = 0
    with translated("BatchWriteItem"), AppointmentItem.batch_write() as batch:
        for appointment, received in snapshots:
            pk = appointment_key(appointment.tenant_id, appointment.appointment_id)
            batch.save(AppointmentItem(pk, **_values(appointment, received)))
            stored += 1
    return stored


def hold(key: str, integration_id: str) -> AppointmentChanged | None:
    """Registers ``integration_id`` as holding an event for the appointment and returns its latest
    snapshot, in one write: whoever stores a newer change afterwards finds the integration among the
    holders (so it syncs that calendar too), and whoever stored one before is read here. None when the
    snapshot is gone (expired)."""
    item = AppointmentItem(key)
    try:
        with translated("UpdateItem"):
            item.update(actions=[AppointmentItem.holders.add({integration_id})],
                        condition=AppointmentItem.pk.exists())
    except UpdateError as error:
        if condition_failed(error):
            return None
        raise
    return _unpack(item.snapshot)


def get(tenant_id: str, appointment_id: str) -> AppointmentChanged | None:
    """The stored snapshot (strongly consistent), or None."""
    with translated("GetItem"):
        try:
            item = AppointmentItem.get(appointment_key(tenant_id, appointment_id), consistent_read=True)
        except AppointmentItem.DoesNotExist:
            return None
    return _unpack(item.snapshot)


def get_many(keys: Iterable[str]) -> dict[str, Received]:
    """Stored snapshots by appointment key (BatchGetItem, eventually consistent: the sweeps that use it
    re-read under the ledger lease before writing anything)."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, Received] = {}
    for offset in range(0, len(wanted), BATCH_GET_LIMIT):
        with translated("BatchGetItem"):
            for item in AppointmentItem.batch_get(wanted[offset:offset + BATCH_GET_LIMIT]):
                found[item.pk] = Received(_unpack(item.snapshot), _time.moment(int(item.received_at)),
                                          frozenset(item.holders or ()))
    return found


def get_by_key(key: str) -> AppointmentChanged | None:
    """The stored snapshot for an appointment key (``tenant#appointment``), strongly consistent."""
    tenant_id, _, appointment_id = key.partition("#")
    return get(tenant_id, appointment_id)


def changed_page(bucket: str, after: str | None, limit: int) -> tuple[list[str], str | None]:
    """One page (at most ``limit``) of appointment keys in a ``by_changed_day`` partition, in key order,
    from just after ``after``; and the key to resume after (None: the partition is done)."""
    start = {"changed_day": {"S": bucket}, "pk": {"S": after}} if after else None
    with translated("Query"):
        items, last = one_page(AppointmentItem.by_changed_day.query(bucket, last_evaluated_key=start,
                                                                    page_size=max(1, limit)), AppointmentItem)
    return [item.pk for item in items], (last["pk"]["S"] if last else None)


def window_page(owner_key: str, start: dt.datetime, end: dt.datetime, after: dict[str, str] | None,
                limit: int) -> tuple[list[tuple[str, dict[str, str]]], bool]:
    """One page of the appointments an integration follows (``owner_key`` as in
    ``Integration.owner_key``) whose start month is in [start, end]: each key with the token to resume
    just after it, and whether more pages follow. Front-desk owners (``tenant#practice:id``) read
    ``by_practice``, clinicians ``by_practitioner``."""
    tenant_id, _, owner = owner_key.partition("#")
    start_key = {name: {"S": value} for name, value in after.items()} if after else None
    months = (month_key(start), month_key(end))
    with translated("Query"):
        if owner.startswith("practice:"):
            hash_name, hash_value = "practice_key", practice_key(tenant_id, owner.removeprefix("practice:"))
            results = AppointmentItem.by_practice.query(
                hash_value, range_key_condition=ByPracticeIndex.start_month.between(*months),
                last_evaluated_key=start_key, page_size=max(1, limit))
        else:
            hash_name, hash_value = "practitioner_key", owner_key
            results = AppointmentItem.by_practitioner.query(
                hash_value, range_key_condition=ByPractitionerIndex.start_month.between(*months),
                last_evaluated_key=start_key, page_size=max(1, limit))
        items, last = one_page(results, AppointmentItem)
    return [(item.pk, {hash_name: hash_value, "start_month": item.start_month, "pk": item.pk})
            for item in items], last is not None


def _pack(appointment: AppointmentChanged) -> bytes:
    """Compressed JSON: a snapshot then fits one write unit (1 KB) instead of two."""
    return zlib.compress(appointment.model_dump_json(exclude_none=True).encode(), 6)


def _unpack(blob: bytes) -> AppointmentChanged:
    return parse_stored(zlib.decompress(blob))


def count_window(owner_key: str, start: dt.datetime, end: dt.datetime) -> int:
    """How many appointments :func:`window_page` walks for ``owner_key`` between ``start`` and ``end`` (by
    start month; a counting Query of the keys-only index)."""
    tenant_id, _, owner = owner_key.partition("#")
    months = (month_key(start), month_key(end))
    with translated("Query"):
        if owner.startswith("practice:"):
            return int(AppointmentItem.by_practice.count(
                practice_key(tenant_id, owner.removeprefix("practice:")),
                range_key_condition=ByPracticeIndex.start_month.between(*months)))
        return int(AppointmentItem.by_practitioner.count(
            owner_key, range_key_condition=ByPractitionerIndex.start_month.between(*months)))
