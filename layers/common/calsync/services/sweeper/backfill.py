"""Job 4, backfills: a whole window compared with the calendar and brought up to date — a new connection, a
resume with backfill, a settings change (``recovery.schedule_resync``), a feed whose window is too big to
fill at once. First every item the integration's ledger holds (what the calendar may show), then every
appointment in its window; whatever is behind is synced.

A backfill writes at its provider's pace, not one item at a time: each page of items is synced by a small
pool of workers (:data:`PACES`: how many writes one calendar takes at once), each under its own ledger lease
through the engine, as any sync; for Google and Graph, a :class:`~calsync.providers.batching.Coalescer` sends
what the workers write at about the same time as one batch request. Each run may write at most the
provider's per-minute allowance to one calendar (runs come every minute, so this is the budget that spreads
a large backfill over runs), and the run's own allowance of items bounds its reads. Where it stopped is the
task's cursor; how far it has come is a progress record the operator can read (``calsync.store.backfills``,
``python -m calsync.cli.backfill``). A ``pending`` integration is ``active`` once its first backfill is done.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from calsync.core.observability import Metric, count, logger
from calsync.domain import rules
from calsync.domain.contract import AppointmentChanged
from calsync.domain.ledger import LedgerEntry
from calsync.domain.model import Integration, IntegrationStatus, Provider
from calsync.domain.rules import Outcome
from calsync.providers.base import CalendarProvider
from calsync.providers.batching import Coalescer, batches
from calsync.services import fanout, recovery
from calsync.services.engine import Engine
from calsync.services.ports import Writers
from calsync.services.sweeper.context import Cursor, Run
from calsync.store import appointments, backfills, ledger, sweeps

PAGE = 100
"""Items compared per step (one index page, one batch read of snapshots and of ledger items)."""


@dataclass(frozen=True)
class Pace:
    """How a backfill writes to one calendar of a provider."""

    workers: int
    """Writes in flight at once (syncs running side by side)."""
    batch: int
    """Writes per batch request (1: the provider has no batch endpoint)."""
    per_run: int
    """Writes one run may send one calendar: runs come every minute, so this is a per-minute budget."""


PACES: dict[Provider, Pace] = {
    # iCloud and other CalDAV servers publish no limit; six requests in flight (what a browser opens to one
    # host) keep one busy without hammering it, and a few hundred a minute stays far below what a person's
    # own client sends on a first sync
    Provider.CALDAV: Pace(workers=6, batch=1, per_run=600),
    # 600 requests a minute per user (a batch of n counts as n): leave room for live changes
    Provider.GOOGLE: Pace(workers=50, batch=50, per_run=500),
    # 10,000 requests per 10 minutes and 4 concurrent requests per app and mailbox
    Provider.MICROSOFT: Pace(workers=4, batch=4, per_run=900),
    # the feed's own table
    Provider.ICS: Pace(workers=8, batch=1, per_run=5000),
}
TOUCHED = frozenset({Outcome.WRITTEN, Outcome.REMOVED, Outcome.RETRY, Outcome.PARKED, Outcome.DEAD})
"""Outcomes that cost a provider request (they spend the calendar's per-run allowance)."""


class BatchingWriters:
    """The engine's writers, with each calendar whose provider has a batch endpoint behind a coalescer."""

    def __init__(self, inner: Writers, batch: int) -> None:
        self.inner = inner
        self.batch = batch
        self.coalescers: dict[str, Coalescer] = {}

    def provider_for(self, integration: Integration) -> CalendarProvider:
        provider = self.inner.provider_for(integration)
        if self.batch <= 1 or not batches(provider):
            return provider
        found = self.coalescers.get(integration.integration_id)
        if found is None or found.inner is not provider:
            found = self.coalescers[integration.integration_id] = Coalescer(provider, self.batch)  # type: ignore[arg-type]
        return found


def backfill_window(run: Run, integration: Integration | None, task: sweeps.Task) -> Cursor | None:
    if integration is None or not integration.direction.pushes or integration.status in (
            IntegrationStatus.PAUSED, IntegrationStatus.DISCONNECTED):
        if integration is not None and backfills.get(integration.integration_id) is not None:
            backfills.finish(integration.integration_id, run.now, backfills.STOPPED)
        return None  # a resume or reconnect schedules a new one
    if task.cursor is None:
        backfills.start(integration.integration_id, run.now)
    job = _Backfill(run, integration)
    try:
        cursor = job.go(dict(task.cursor or {"phase": "ledger"}))
    finally:
        job.close()
    if cursor is None:
        backfills.finish(integration.integration_id, run.now)
        if integration.status is IntegrationStatus.PENDING:  # the first sync is done
            recovery.activated(integration)
    return cursor


class _Backfill:
    """One run's work on one integration's backfill."""

    def __init__(self, run: Run, integration: Integration) -> None:
        self.run, self.integration = run, integration
        self.pace = PACES.get(integration.provider, Pace(workers=1, batch=1, per_run=200))
        self.writers = BatchingWriters(run.engine.ports.writers, self.pace.batch)
        self.engine = Engine(dataclasses.replace(run.engine.ports, writers=self.writers, fan_out=fanout.IN_LINE))
        self.pool = fanout.ThreadPool(self.pace.workers, name="calsync-backfill")
        self.allowance = self.pace.per_run
        self.first_step = True

    def close(self) -> None:
        self.pool.shutdown()

    def go(self, cursor: Cursor) -> Cursor | None:
        if cursor["phase"] == "ledger":
            after = cursor.get("after")
            while self._may_go_on():
                entries, next_after = ledger.page(self.integration.integration_id, after, self._page(), (),
                                                  self.run.now)
                snapshots = self.run.snapshots(entry.appointment_key for entry in entries)
                self._step("ledger", [(snapshots.get(e.appointment_key), e) for e in entries])
                after = next_after
                if after is None:
                    break
            else:
                return {"phase": "ledger", "after": after}
            cursor = {"phase": "window"}
        start = self.run.now - dt.timedelta(days=self.integration.window.past_days)
        end = self.run.now + dt.timedelta(days=self.integration.window.future_days)
        token = cursor.get("after")
        while self._may_go_on():
            page, more = appointments.window_page(self.integration.owner_key, start, end, token, self._page())
            snapshots = self.run.snapshots(key for key, _ in page)
            held = ledger.get_many(((self.integration.integration_id, key) for key, _ in page), self.run.now)
            self._step("window", [(snapshots.get(key), held.get((self.integration.integration_id, key)))
                                  for key, _ in page])
            token = page[-1][1] if page else token
            if not more:
                return None
        return {"phase": "window", "after": token}

    def _page(self) -> int:
        """A page, or what is left of the run's allowance of items if less (an operator's resync drives a
        backfill a few items at a time, ``calsync.services.resyncs``)."""
        return max(1, min(PAGE, self.run.budget.backfill_items, self.allowance))

    def _may_go_on(self) -> bool:
        return (self.allowance > 0 and self.integration.integration_id not in self.run.throttled
                and self.run.budget.can_backfill())

    def _step(self, phase: str, items: Sequence[tuple[AppointmentChanged | None, LedgerEntry | None]]) -> None:
        """Syncs the page's items that are behind, side by side; records what happened."""
        self.run.budget.backfill_items -= len(items)
        policy = self.run.policy(self.integration.tenant_id)
        behind = [appointment for appointment, entry in items if appointment is not None
                  and rules.drift(self.integration, appointment, entry, self.run.now, policy)]
        provider = self.writers.provider_for(self.integration) if behind else None
        expected = provider if isinstance(provider, Coalescer) else None
        if expected is not None:
            expected.expect(len(behind))  # so a batch waits for the page's writers, and for no one else
        batches_before = expected.batches_sent if expected is not None else 0
        jobs: list[Callable[[], Outcome | None]] = [partial(self._one, appointment, expected)
                                                    for appointment in behind]
        results = self.pool.run(jobs)
        failure = fanout.first_failure(results)
        if failure is not None:
            raise failure  # DynamoDB trouble: the run fails loudly, the next one resumes from the cursor
        outcomes = Counter(result for result in results if isinstance(result, Outcome))
        touched = sum(n for outcome, n in outcomes.items() if outcome in TOUCHED)
        self.allowance -= touched
        counts = {"examined": len(items), "written": outcomes[Outcome.WRITTEN], "removed": outcomes[Outcome.REMOVED],
                  "unchanged": len(items) - len(behind) + outcomes[Outcome.UNCHANGED] + outcomes[Outcome.SUPERSEDED],
                  "failed": outcomes[Outcome.RETRY] + outcomes[Outcome.PARKED] + outcomes[Outcome.DEAD],
                  "busy": sum(1 for result in results if result is None),
                  "batches": (expected.batches_sent - batches_before) if expected is not None else 0}
        backfills.record(self.integration.integration_id, self.run.now, phase, counts, new_run=self.first_step)
        self.first_step = False
        if counts["written"] or counts["removed"]:
            count(Metric.BACKFILL_WRITTEN, counts["written"] + counts["removed"])
        logger.info("backfill step", extra={"integration_id": self.integration.integration_id, "phase": phase,
                                             "provider": self.integration.provider.value, **counts})

    def _one(self, appointment: AppointmentChanged, coalescer: Coalescer | None) -> Outcome | None:
        try:
            return self.run.backfill_sync(self.engine, self.integration, appointment)
        finally:
            if coalescer is not None:
                coalescer.finished()


def progress(integration_id: str) -> backfills.Progress | None:
    """How far the integration's last (or current) backfill has come."""
    return backfills.get(integration_id)
