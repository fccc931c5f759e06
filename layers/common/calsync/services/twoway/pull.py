"""One pull job: an integration's watched calendars read back, under its pull lease.

For each watched calendar, in order:

1. **read** — incrementally from its sync position; in full (the window, bounded) when there is none, when
   asked to (a lost notification, a channel removed), when the window has moved on by
   :data:`REBUILD_AFTER`, or when the provider no longer knows the position (Google ``410``, Graph
   ``syncStateNotFound``, an invalid CalDAV sync token: ``SyncStateLost`` is counted);
2. **restore** — calsync's own events the clinician moved or deleted are put back (``restore``);
3. **busy time** — the reading becomes busy blocks, the mass-removal guard is applied, changes are
   published and stored, and the calendar's sync position moves on (``busy_time``);

then conflicts are looked for around every block that changed (``conflicts``). Before reading, the pull
makes sure every watched calendar has a live push channel that lasts (``watching.ensure``), so renewal
rides on the pulls the sweeper makes due.

The next pull is due (for the sweeper) after the safety net (:data:`SAFETY_NET`: every two-way integration
is read at least that often even if no notification ever comes), a CalDAV integration's polling interval, a
channel's renewal, or a held removal's confirmation — whichever comes first; a failed read is tried again
after :data:`RETRY_AFTER`. A request that comes while a pull runs makes it go round once more.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from calsync.core.errors import (
    REAUTH_REQUIRED,
    ProviderAuthError,
    ProviderError,
    ProviderGoneError,
    ProviderSyncStateLostError,
)
from calsync.core.observability import Metric, count, logger
from calsync.domain import guard
from calsync.domain.busy import Window, calendar_tag
from calsync.domain.model import Integration, IntegrationStatus
from calsync.domain.rules import CALENDAR_GONE
from calsync.providers.inbound import CalendarReader, Changes
from calsync.services import recovery
from calsync.services.twoway import busy_time, conflicts, readers, restore, watching
from calsync.services.twoway.busy_time import Changed
from calsync.store import integrations, pulls
from calsync.store.pulls import Cursor, PullState
from calsync.store.watches import StoredWatch

LEASE_SECONDS = 180
"""Three times the pull worker's timeout: a pull that dies is taken over after this."""
ROUNDS = 3
"""Pulls per job: the first, and again for requests made while it ran."""
SAFETY_NET = dt.timedelta(minutes=15)
RETRY_AFTER = dt.timedelta(minutes=2)
REBUILD_AFTER = dt.timedelta(days=7)


@dataclass
class PullReport:
    """What one job did (logged; tests and benches read it)."""

    busy: bool = False
    rounds: int = 0
    calendars: int = 0
    full_reads: int = 0
    sync_state_lost: int = 0
    events_read: int = 0
    blocks_changed: int = 0
    removals_held: int = 0
    restored: int = 0
    conflicts_detected: int = 0
    conflicts_resolved: int = 0
    channels_started: int = 0
    error: str | None = None


def pull(integration_id: str, now: dt.datetime | None = None) -> PullReport:
    """Runs one pull job for the integration (a busy lease means another pull runs: it goes round again)."""
    report = PullReport()
    owner = f"pull-{uuid.uuid4().hex[:12]}"
    state = pulls.acquire(integration_id, owner, now or dt.datetime.now(dt.UTC), LEASE_SECONDS)
    if state is None:
        pulls.unqueue(integration_id)
        count(Metric.PULL_COALESCED)  # the pull holding the lease goes round once more
        report.busy = True
        return report
    for _round in range(ROUNDS):
        moment = now or dt.datetime.now(dt.UTC)
        report.rounds += 1
        integration = integrations.get(integration_id)
        if integration is None or not integration.watching or not readers.readable(integration):
            if integration is not None:
                watching.stop_watching(integration, moment)  # paused, disconnected, push only: busy time goes
            else:
                pulls.forget(integration_id)
            count(Metric.PULL_RUN)
            return report
        due, report.error = _once(integration, state, moment, report)
        count(Metric.PULL_RUN)
        again = pulls.finish(integration_id, owner, moment, due, report.error)
        if again is None:
            break
        state = again
    else:  # asked again and again: let go, and let the sweeper queue the next pull at once
        pulls.let_go(integration_id, owner, now or dt.datetime.now(dt.UTC))
    logger.info("pull finished", extra={"integration_id": integration_id, **_summary(report)})
    return report


def _summary(report: PullReport) -> dict[str, object]:
    return {name: value for name, value in vars(report).items() if value}


def _once(integration: Integration, state: PullState, now: dt.datetime,
          report: PullReport) -> tuple[dt.datetime, str | None]:
    """One round; returns when the next pull is due and the error that cut this one short, if any."""
    reader = readers.reader_for(integration)
    watcher = readers.watcher_for(integration)
    channels: list[StoredWatch] = []
    if watcher is not None:
        started, channels = watching.ensure(integration, watcher, now, renew_all=state.renew)
        report.channels_started += started
    window = Window.of(integration, now)
    if state.full:
        conflicts.track(integration, window)  # its clinician's appointments, for conflicts with busy time
    cursors = pulls.cursors(integration.integration_id)
    changed: list[Changed] = []
    due = now + (dt.timedelta(minutes=integration.poll_minutes) if watcher is None else SAFETY_NET)
    for calendar in integration.watched:
        known = cursors.get(calendar) or Cursor(calendar)
        try:
            read = _read(reader, calendar, known, window, state.full, report)
        except ProviderGoneError:
            if calendar == integration.calendar_id:
                recovery.entered_error(integration, CALENDAR_GONE, now)
                return now + SAFETY_NET, CALENDAR_GONE  # tried again at the safety net's pace
            read = Changes(complete=True)  # a watched calendar deleted: reads empty (the guard holds it)
        except ProviderAuthError:
            recovery.entered_error(integration, REAUTH_REQUIRED, now)
            return now + SAFETY_NET, REAUTH_REQUIRED
        except ProviderError as error:
            count(Metric.PULL_FAILED)
            logger.warning("calendar not read", extra={"integration_id": integration.integration_id,
                                                       "reason": error.reason, "status": error.status})
            return now + RETRY_AFTER, error.reason
        read = restore.recognise(integration, read)
        report.events_read += len(read.events)
        report.restored += restore.review(integration, reader, calendar, read, window, now)
        outcome = busy_time.apply(integration, calendar, read, known, window, now)
        if outcome.cursor != known:
            pulls.save_cursor(integration.integration_id, calendar_tag(calendar), outcome.cursor)
        changed += outcome.changed
        report.calendars += 1
        report.removals_held += outcome.held
        if outcome.cursor.hold is not None:
            due = min(due, outcome.cursor.hold.since + guard.CONFIRM_AFTER + dt.timedelta(seconds=30))
    for calendar in cursors.keys() - set(integration.watched):  # no longer watched: its busy time goes
        changed += busy_time.withdraw(integration, now, calendar)
        pulls.drop_cursor(integration.integration_id, calendar_tag(calendar))
    report.blocks_changed += len(changed)
    detected, resolved = conflicts.busy_changed(integration, changed, now)
    report.conflicts_detected += detected
    report.conflicts_resolved += resolved
    if integration.status is IntegrationStatus.PENDING:
        recovery.activated(integration)  # its calendars can be read: the connection works
    elif integration.status is IntegrationStatus.ERROR and integration.status_reason in (REAUTH_REQUIRED,
                                                                                         CALENDAR_GONE):
        recovery.recovered(integration, now)  # its calendars read again: credentials and calendar are back
    due = min([due, *(channel.ends_at - watching.RENEW_BEFORE for channel in channels)])
    return max(due, now + dt.timedelta(seconds=30)), None


def _read(reader: CalendarReader, calendar: str, known: Cursor, window: Window, full: bool,
          report: PullReport) -> Changes:
    stale = known.window_end is None or window.end - known.window_end > REBUILD_AFTER
    if known.cursor is not None and not full and not stale:
        try:
            return reader.changes(calendar, known.cursor, window)
        except ProviderSyncStateLostError:
            count(Metric.SYNC_STATE_LOST)
            report.sync_state_lost += 1
            logger.warning("sync state lost: reading the window in full", extra={"calendar": calendar_tag(calendar)})
    report.full_reads += 1
    return reader.changes(calendar, None, window)

