"""The EHR stays the source of truth: an event calsync keeps on a clinician's calendar that the clinician
moved, retitled or deleted is put back from the stored snapshot, and ``External Edit Reverted`` says so.
Nothing ever goes back into the EHR.

A pull meets calsync's own events by our marker (and, for a deletion, by the event id the ledger records:
``calsync.store.ledger.holding_external``). One is restored only when every doubt is gone:

* its ledger item is settled (synced, not under a lease, not uncertain) — else a write of ours is in
  flight and will set it right;
* the calendar holds now (read again, one request) something other than what calsync last wrote: a
  different etag, and times or title other than the snapshot's — a pull that read the calendar just
  before one of our own writes never mistakes our write for an edit.

Restoring marks the ledger item uncertain and lets the engine sync it: the engine rewrites it however
the calendar now stands (revived, overwritten, created again), under the same lease rules as any sync.
On a complete read, a synced event missing from the listing is a deletion too.

Graph shows no extended properties in a delta, so our events are told by their ``transactionId``; one
that no ledger item records (another application's id of the same form) is not ours, and counts as busy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from calsync.aws import bus
from calsync.core.errors import LeaseBusyError
from calsync.core.observability import Metric, count, logger
from calsync.core.settings import get_settings
from calsync.domain import rules
from calsync.domain.busy import ExternalEvent, Window
from calsync.domain.contract import AppointmentChanged
from calsync.domain.event import CalendarEvent
from calsync.domain.ledger import LedgerState
from calsync.domain.model import Direction, Integration, Provider
from calsync.domain.outbound import EDIT_REVERTED, ExternalEditReverted
from calsync.domain.rules import Outcome
from calsync.providers.inbound import CalendarReader, Changes
from calsync.services import engine
from calsync.store import appointments, ledger

LEDGER_PAGE = 100
MISSING_CHECKS = 500
"""A complete read compares at most this many synced ledger items with its listing."""


def recognise(integration: Integration, read: Changes) -> Changes:
    """``read`` with calsync's own events told apart for sure: a Graph event whose ``transactionId`` looks
    like ours but that no ledger item records is the clinician's (busy time), not ours."""
    if integration.provider is not Provider.MICROSOFT:
        return read
    events = [event if not event.ours or ledger.holding_external(event.source)
              else dataclasses.replace(event, marker=None) for event in read.events]
    return dataclasses.replace(read, events=events)


def review(integration: Integration, reader: CalendarReader, calendar: str, read: Changes, window: Window,
           now: dt.datetime) -> int:
    """Restores the clinician's edits of calsync's events that ``read`` shows; returns how many."""
    if integration.direction is not Direction.TWO_WAY or not integration.accepts_pushes:
        return 0
    candidates: dict[str, ExternalEvent | None] = {event.source: event for event in read.events if event.ours}
    candidates.update(dict.fromkeys(read.removed))
    if read.complete and calendar == integration.calendar_id:
        listed = {event.source for event in read.events}
        candidates.update(dict.fromkeys(_missing(integration, listed, window, now)))
    restored = 0
    for source, seen in candidates.items():
        found = [key for integration_id, key in ledger.holding_external(source)
                 if integration_id == integration.integration_id]
        if found and _review_one(integration, reader, calendar, source, seen, found[0], now):
            restored += 1
    return restored


def _missing(integration: Integration, listed: set[str], window: Window, now: dt.datetime) -> list[str]:
    """External ids of synced events that a complete read of the window did not list."""
    unlisted: dict[str, str] = {}
    after: str | None = None
    for _page in range(MISSING_CHECKS // LEDGER_PAGE):
        entries, after = ledger.page(integration.integration_id, after, LEDGER_PAGE, (LedgerState.SYNCED,), now)
        unlisted.update({entry.appointment_key: entry.external_id for entry in entries
                         if entry.external_id and entry.external_id not in listed})
        if after is None:
            break
    snapshots = appointments.get_many(unlisted)
    return [unlisted[key] for key, stored in snapshots.items()
            if window.overlaps(stored.appointment.start, stored.appointment.end)]


def _review_one(integration: Integration, reader: CalendarReader, calendar: str, source: str,
                seen: ExternalEvent | None, appointment_key: str, now: dt.datetime) -> bool:
    entry = ledger.get(integration.integration_id, appointment_key, now)
    if (entry is None or entry.leased or entry.uncertain or entry.state is not LedgerState.SYNCED
            or entry.external_id != source):
        return False  # not settled: a write of ours is on its way
    if seen is not None and seen.etag is not None and seen.etag == entry.etag:
        return False  # exactly what calsync wrote last
    snapshot = appointments.get_by_key(appointment_key)
    desired = rules.desired(integration, snapshot, now) if snapshot is not None else None
    if snapshot is None or desired is None:
        return False  # the engine removes it (or already has)
    current = reader.event(calendar, source)
    if current is not None and current.etag is not None and current.etag == entry.etag:
        return False  # the pull read it before our last write
    edit = edit_of(current, desired)
    if edit is None:
        return False  # only what calsync does not keep changed (a reminder, a colour)
    if not _restore(integration, snapshot, appointment_key, now):
        return False
    bus.publish(EDIT_REVERTED, ExternalEditReverted(
        tenant_id=integration.tenant_id, practitioner_id=integration.practitioner_id,
        integration_id=integration.integration_id, provider=integration.provider.value,
        appointment_id=snapshot.appointment_id, edit=edit, reverted_at=now).model_dump(mode="json"))
    count(Metric.EDIT_REVERTED)
    logger.info("external edit reverted", extra={"integration_id": integration.integration_id, "edit": edit})
    return True


def edit_of(current: ExternalEvent | None, desired: CalendarEvent) -> str | None:
    """What the clinician did to the event, judged on what calsync keeps (times, title), or None."""
    if current is None or current.cancelled:
        return "deleted"
    if desired.all_day:
        zone = ZoneInfo(desired.timezone)
        wanted = (desired.start.astimezone(zone).date(), desired.end.astimezone(zone).date())
        if not current.all_day or (current.start_date, current.end_date) != wanted:
            return "moved"
    elif current.all_day or (current.start, current.end) != (desired.start, desired.end):
        return "moved"
    if (current.title or "") != desired.summary:
        return "changed"
    return None


def _restore(integration: Integration, snapshot: AppointmentChanged, appointment_key: str, now: dt.datetime) -> bool:
    """Marks the ledger item uncertain and syncs it: the engine writes the snapshot back."""
    owner = f"restore-{uuid.uuid4().hex[:12]}"
    try:
        entry = ledger.acquire(integration.integration_id, appointment_key, owner, get_settings().lease_seconds, now)
    except LeaseBusyError:
        return False
    entry.uncertain = True
    ledger.release(entry, owner, now)
    try:
        outcome = engine.default().sync(integration, snapshot, now, wait_for_lease=False)
    except LeaseBusyError:
        return False
    return outcome is Outcome.WRITTEN
