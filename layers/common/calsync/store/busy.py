"""Busy blocks read from clinicians' calendars (see ``tables.BusyBlockItem``): per integration, under
``<calendar tag>#<source tag>#<block id>``, and across a clinician's integrations by start time (the
``by_owner`` index) for the availability query."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from calsync.domain.busy import LONGEST_BLOCK, BusyBlock, BusyStatus, calendar_tag, source_tag
from calsync.store._errors import translated
from calsync.store.tables import BusyBlockItem, ByOwnerStartIndex

KEEP_AFTER_END = dt.timedelta(days=1)


@dataclass(frozen=True)
class StoredBlock:
    """A stored block: ``slot`` is its key within the integration (what a delete needs)."""

    integration_id: str
    slot: str
    block: BusyBlock
    ordering_key: str
    digest: str


def owner_key(tenant_id: str, practitioner_id: str) -> str:
    return f"{tenant_id}#{practitioner_id}"


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)  # "...Z" is UTC; several times faster than strptime


def slot_of(block: BusyBlock) -> str:
    return f"{calendar_tag(block.calendar)}#{source_tag(block.source)}#{block.block_id}"


def _domain(item: BusyBlockItem, calendar: str = "", source: str = "") -> StoredBlock:
    """``calendar`` and ``source`` are what the caller asked for (a listing by owner knows neither)."""
    block = BusyBlock(
        block_id=item.block_id, calendar=calendar, source=source, start=_moment(item.start_utc),
        end=_moment(item.end_utc), status=BusyStatus(item.status), all_day=bool(item.all_day),
        start_date=dt.date.fromisoformat(item.start_date) if item.start_date else None,
        end_date=dt.date.fromisoformat(item.end_date) if item.end_date else None, title=item.title,
        attendees=tuple(sorted(item.attendees or ())))
    return StoredBlock(item.integration_id, item.slot, block, item.ordering_key, item.digest)


def put(integration_id: str, owner: str, block: BusyBlock, ordering_key: str) -> None:
    item = BusyBlockItem(
        integration_id, slot_of(block), owner_key=owner, block_id=block.block_id, start_utc=_utc(block.start),
        end_utc=_utc(block.end), status=block.status.value, all_day=1 if block.all_day else None,
        start_date=block.start_date.isoformat() if block.start_date else None,
        end_date=block.end_date.isoformat() if block.end_date else None, title=block.title,
        attendees=set(block.attendees) or None, digest=block.digest, ordering_key=ordering_key,
        expires_at=block.end + KEEP_AFTER_END)
    with translated("PutItem"):
        item.save()


def delete(integration_id: str, slot: str) -> None:
    with translated("DeleteItem"):
        BusyBlockItem(integration_id, slot).delete()


def _prefixed(integration_id: str, prefix: str, calendar: str, source: str) -> list[StoredBlock]:
    with translated("Query"):
        return [_domain(item, calendar, source) for item in BusyBlockItem.query(
            integration_id, BusyBlockItem.slot.startswith(prefix), consistent_read=True)]


def of_source(integration_id: str, calendar: str, source: str) -> dict[str, StoredBlock]:
    """The stored blocks of one provider item (an event, an instance, a CalDAV resource), by block id."""
    prefix = f"{calendar_tag(calendar)}#{source_tag(source)}#"
    return {stored.block.block_id: stored for stored in _prefixed(integration_id, prefix, calendar, source)}


def of_calendar(integration_id: str, calendar: str) -> dict[str, StoredBlock]:
    """Every stored block of one watched calendar, by block id (their sources are known by slot only)."""
    return {stored.block.block_id: stored
            for stored in _prefixed(integration_id, f"{calendar_tag(calendar)}#", calendar, "")}


def of_integration(integration_id: str) -> list[StoredBlock]:
    with translated("Query"):
        return [_domain(item) for item in BusyBlockItem.query(integration_id, consistent_read=True)]


@dataclass(frozen=True)
class OwnedBlock:
    """A block as the availability query reads it: no more than when, how busy, and whose."""

    integration_id: str
    block_id: str
    start: dt.datetime
    end: dt.datetime
    status: BusyStatus


OWNED = ["integration_id", "block_id", "start_utc", "end_utc", "status"]


def for_owner(owner: str, start: dt.datetime, end: dt.datetime) -> list[OwnedBlock]:
    """Every block of a clinician (all their integrations) overlapping [start, end), by start: one query of
    the blocks starting in [start - LONGEST_BLOCK, end) (no block is longer), reading only the attributes
    above and skipping pynamodb's item objects (a busy month is hundreds of blocks)."""
    condition = ByOwnerStartIndex.start_utc.between(_utc(start - LONGEST_BLOCK), _utc(end))
    lower, upper = _utc(start), _utc(end)
    connection = BusyBlockItem._get_connection()
    found: list[OwnedBlock] = []
    last: dict[str, Any] | None = None
    while True:
        with translated("Query"):
            page = connection.query(owner, range_key_condition=condition, index_name="by_owner",
                                    attributes_to_get=OWNED, exclusive_start_key=last)
        for item in page.get("Items", []):
            begins, ends = item["start_utc"]["S"], item["end_utc"]["S"]
            if ends > lower and begins < upper:
                found.append(OwnedBlock(item["integration_id"]["S"], item["block_id"]["S"], _moment(begins),
                                        _moment(ends), BusyStatus(item["status"]["S"])))
        last = page.get("LastEvaluatedKey")
        if not last:
            return found
