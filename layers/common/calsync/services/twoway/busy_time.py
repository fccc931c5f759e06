"""A watched calendar's reading turned into busy blocks: compared with what is stored, guarded against mass
removal (``calsync.domain.guard``), published as ``External Busy Time Changed``, then stored.

Published first, stored second: a crash between the two publishes the same change again on the next
pull (with a newer ordering key), never loses it. Each block's ordering key is the pull's time in
microseconds, and always greater than the key it was last published with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from calsync.aws import bus
from calsync.core.observability import Metric, count, logger
from calsync.domain import guard
from calsync.domain.busy import BusyBlock, Window, blocks_of
from calsync.domain.model import Integration
from calsync.domain.outbound import BUSY_TIME_CHANGED, BlockChange, BusyTime, ExternalBusyTimeChanged
from calsync.providers.inbound import Changes
from calsync.store import busy
from calsync.store.busy import StoredBlock
from calsync.store.pulls import Cursor

PUBLISH_BATCH = 50
"""Blocks per published event (EventBridge takes events up to 256 KB)."""


@dataclass(frozen=True)
class Changed:
    """One busy block before and after a pull (None: absent)."""

    before: StoredBlock | None
    after: BusyBlock | None

    @property
    def block_id(self) -> str:
        if self.after is not None:
            return self.after.block_id
        assert self.before is not None
        return self.before.block.block_id


@dataclass
class CalendarOutcome:
    cursor: Cursor
    changed: list[Changed] = field(default_factory=list)
    held: int = 0


def _micros(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def ordering_key(now: dt.datetime, before: StoredBlock | None, sequence: int) -> str:
    """Greater than every key this block was published with before."""
    micros = _micros(now)
    if before is not None:
        micros = max(micros, int(before.ordering_key.partition("#")[0]) + 1)
    return f"{micros:020d}#{sequence:08d}"


def apply(integration: Integration, calendar: str, read: Changes, known: Cursor, window: Window,
          now: dt.datetime) -> CalendarOutcome:
    """Applies one reading of ``calendar``; returns the calendar's new sync position and what changed."""
    wanted: dict[str, BusyBlock] = {}
    sources: set[str] = set(read.removed)
    for event in read.events:
        sources.add(event.source)
        for block in blocks_of(integration, calendar, event, window):
            wanted[block.block_id] = block
    if read.complete:
        stored = busy.of_calendar(integration.integration_id, calendar)
    else:
        stored = {}
        for source in sorted(sources):
            stored.update(busy.of_source(integration.integration_id, calendar, source))
    known_count = len(stored) if read.complete else known.blocks
    removals = {block_id: block for block_id, block in stored.items() if block_id not in wanted}
    verdict, hold = guard.judge(known_count, frozenset(removals), read.complete and not read.events, known.hold, now)
    held = verdict is guard.Verdict.HOLD
    withheld = len(removals) if held else 0
    if held:
        count(Metric.REMOVAL_HELD)
        logger.warning("busy time removal held", extra={"integration_id": integration.integration_id,
                                                        "removing": len(removals), "known": known_count})
        removals = {}
    elif known.hold is not None and removals:
        count(Metric.REMOVAL_CONFIRMED)
    changed = [Changed(stored.get(block.block_id), block) for block in wanted.values()
               if block.block_id not in stored or stored[block.block_id].digest != block.digest]
    changed += [Changed(block, None) for block in removals.values()]
    record(integration, changed, now)
    added = sum(1 for change in changed if change.before is None)
    blocks = max(0, known_count + added - len(removals))
    advance = not held
    cursor = Cursor(calendar, read.cursor if advance else known.cursor,
                    window.end if read.complete and advance else known.window_end, blocks, hold)
    return CalendarOutcome(cursor, changed, withheld)


def withdraw(integration: Integration, now: dt.datetime, calendar: str | None = None) -> list[Changed]:
    """Removes (and publishes the removal of) every busy block of the integration, or of one calendar."""
    found = (busy.of_integration(integration.integration_id) if calendar is None
             else busy.of_calendar(integration.integration_id, calendar).values())
    changed = [Changed(stored, None) for stored in found]
    record(integration, changed, now)
    return changed


def record(integration: Integration, changed: list[Changed], now: dt.datetime) -> None:
    """Publishes ``changed`` (in events of :data:`PUBLISH_BATCH` blocks), then stores it."""
    if not changed:
        return
    keys = [ordering_key(now, change.before, index) for index, change in enumerate(changed)]
    entries = [(BUSY_TIME_CHANGED, detail) for detail in _details(integration, changed, keys, now)]
    bus.publish_all(entries)
    owner = busy.owner_key(integration.tenant_id, integration.practitioner_id)
    for change, key in zip(changed, keys, strict=True):
        if change.after is not None:
            busy.put(integration.integration_id, owner, change.after, key)
        elif change.before is not None:
            busy.delete(integration.integration_id, change.before.slot)
    count(Metric.BUSY_BLOCKS_CHANGED, len(changed))


def _details(integration: Integration, changed: list[Changed], keys: list[str],
             now: dt.datetime) -> Iterable[dict[str, object]]:
    blocks = [_change(change, key) for change, key in zip(changed, keys, strict=True)]
    for start in range(0, len(blocks), PUBLISH_BATCH):
        event = ExternalBusyTimeChanged(tenant_id=integration.tenant_id, practitioner_id=integration.practitioner_id,
                                        integration_id=integration.integration_id,
                                        provider=integration.provider.value, changed_at=now,
                                        blocks=blocks[start:start + PUBLISH_BATCH])
        yield event.model_dump(mode="json")


def _change(change: Changed, key: str) -> BlockChange:
    block = change.after
    if block is None:
        assert change.before is not None
        return BlockChange(block_id=change.before.block.block_id, ordering_key=key, deleted=True)
    shown = BusyTime(start=block.start, end=block.end, status=block.status, all_day=block.all_day,
                     start_date=block.start_date, end_date=block.end_date, title=block.title,
                     attendees=list(block.attendees) if block.attendees else None)
    return BlockChange(block_id=block.block_id, ordering_key=key, deleted=False, busy=shown)
