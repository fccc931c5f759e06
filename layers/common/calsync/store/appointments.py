"""Appointment snapshots: the latest state of each appointment, guarded by its ordering key."""

from __future__ import annotations

import datetime as dt
import time
import zlib
from collections.abc import Iterator

from pynamodb.exceptions import PutError

from calsync.contract import AppointmentChanged
from calsync.store._errors import condition_failed, translated
from calsync.store.tables import AppointmentItem, ByPracticeIndex, ByPractitionerIndex

RETENTION_AFTER_END = dt.timedelta(days=400)
BATCH_GET_LIMIT = 100


def appointment_key(tenant_id: str, appointment_id: str) -> str:
    return f"{tenant_id}#{appointment_id}"


def practitioner_key(tenant_id: str, practitioner_id: str) -> str:
    return f"{tenant_id}#{practitioner_id}"


def practice_key(tenant_id: str, practice_id: str) -> str:
    return f"{tenant_id}#{practice_id}"


def utc_key(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def month_key(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m")


def save_if_newer(appointment: AppointmentChanged) -> bool:
    """Stores the snapshot unless a newer one is stored already. Returns False for a stale change.

    An equal ordering key is accepted (a duplicate rewrites the same content), so a redelivered change
    whose first attempt crashed midway still reaches the calendars.
    """
    item = AppointmentItem(
        appointment_key(appointment.tenant_id, appointment.appointment_id),
        order_key=appointment.order_key,
        practitioner_key=practitioner_key(appointment.tenant_id, appointment.practitioner_id),
        practice_key=practice_key(appointment.tenant_id, appointment.practice.id),
        start_utc=utc_key(appointment.start),
        start_month=month_key(appointment.start),
        status=appointment.status.value,
        snapshot=_pack(appointment),
        received_at=int(time.time()),
        expires_at=appointment.end + RETENTION_AFTER_END,
    )
    newer_or_equal = AppointmentItem.pk.does_not_exist() | (AppointmentItem.order_key <= appointment.order_key)
    try:
        with translated("PutItem"):
            item.save(condition=newer_or_equal)
    except PutError as error:
        if condition_failed(error):
            return False
        raise
    return True


def get(tenant_id: str, appointment_id: str) -> AppointmentChanged | None:
    """The stored snapshot (strongly consistent), or None."""
    with translated("GetItem"):
        try:
            item = AppointmentItem.get(appointment_key(tenant_id, appointment_id), consistent_read=True)
        except AppointmentItem.DoesNotExist:
            return None
    return _unpack(item.snapshot)


def _pack(appointment: AppointmentChanged) -> bytes:
    """Compressed JSON: a snapshot then fits one write unit (1 KB) instead of two."""
    return zlib.compress(appointment.model_dump_json(exclude_none=True).encode(), 6)


def _unpack(blob: bytes) -> AppointmentChanged:
    return AppointmentChanged.model_validate_json(zlib.decompress(blob))


def _load(keys: list[str], start: dt.datetime, end: dt.datetime) -> Iterator[AppointmentChanged]:
    """Snapshots for index hits (the indexes hold keys only) that start in [start, end), by start."""
    found: list[AppointmentChanged] = []
    for offset in range(0, len(keys), BATCH_GET_LIMIT):
        with translated("BatchGetItem"):
            for item in AppointmentItem.batch_get(keys[offset:offset + BATCH_GET_LIMIT]):
                appointment = _unpack(item.snapshot)
                if start <= appointment.start < end:
                    found.append(appointment)
    yield from sorted(found, key=lambda appointment: appointment.start)


def for_practitioner(tenant_id: str, practitioner_id: str, start: dt.datetime,
                     end: dt.datetime) -> Iterator[AppointmentChanged]:
    """A clinician's appointments starting in [start, end), by start time."""
    condition = ByPractitionerIndex.start_month.between(month_key(start), month_key(end))
    with translated("Query"):
        keys = [item.pk for item in AppointmentItem.by_practitioner.query(
            practitioner_key(tenant_id, practitioner_id), range_key_condition=condition)]
    yield from _load(keys, start, end)


def for_practice(tenant_id: str, practice_id: str, start: dt.datetime,
                 end: dt.datetime) -> Iterator[AppointmentChanged]:
    """A practice's appointments starting in [start, end), by start time (front-desk feeds)."""
    condition = ByPracticeIndex.start_month.between(month_key(start), month_key(end))
    with translated("Query"):
        keys = [item.pk for item in AppointmentItem.by_practice.query(
            practice_key(tenant_id, practice_id), range_key_condition=condition)]
    yield from _load(keys, start, end)
