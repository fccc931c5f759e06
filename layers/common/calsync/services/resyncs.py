"""An operator's resyncs, run in the foreground (``calsync resync``), resumable and safe to interrupt.

- **one appointment**: every calendar that should show it or holds it is synced now with the latest
  snapshot (``force``: written even where the ledger says it is in step — for a calendar edited by hand);
- **one integration's window**, or **one practice's**: the sweeper's own stored task (``resync#<id>``,
  ``resync-practice#...``) driven here chunk by chunk, with the engine's rules: whatever is behind is synced.

A driven task keeps its cursor in the Ledger table after every chunk, under its lease, exactly as when
the sweeper runs it: stopping (Ctrl-C, ``stop_after``, a crash) loses at most the chunk in flight, and the
work goes on from there — in the next ``calsync resync`` (which resumes unless told to restart) or in the
sweeper within a minute. When the sweeper holds the task, the driver waits for it rather than racing it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from calsync.core.errors import ConfigurationError
from calsync.domain.model import SyncWindow
from calsync.domain.rules import Outcome
from calsync.services import engine, recovery
from calsync.services.sweeper import Budget, SweepReport
from calsync.services.sweeper.backfill import backfill_window
from calsync.services.sweeper.context import Run, TaskJob
from calsync.services.sweeper.practice import PRACTICE_PREFIX, practice_task, practice_window, resync_practice
from calsync.store import appointments, integrations, ledger, sweeps

CHUNK_SYNCS = 50
"""Syncs per chunk: the cursor is stored at least this often (an integration's backfill: items compared)."""
CHUNK_READS = 1000
WAIT_SECONDS = 1.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def appointment(tenant_id: str, appointment_id: str, *, force: bool = False,
                on_each: Callable[[str, Outcome], None] | None = None) -> dict[str, Outcome]:
    """Syncs every calendar of one appointment now; returns each integration's outcome."""
    key = f"{tenant_id}#{appointment_id}"
    found = appointments.get_many([key]).get(key)
    snapshot = appointments.get(tenant_id, appointment_id)
    if found is None or snapshot is None:
        raise ConfigurationError(f"no appointment {appointment_id} in tenant {tenant_id}")
    holders = found.holders
    outcomes: dict[str, Outcome] = {}
    for integration in engine.targets(snapshot, holders):
        if force:
            ledger.mark_uncertain(integration.integration_id, key)
        outcomes[integration.integration_id] = outcome = engine.sync(integration, snapshot)
        if on_each is not None:
            on_each(integration.integration_id, outcome)
    return outcomes


@dataclass
class Progress:
    """How far a driven resync is: ``examined`` of about ``total`` items, what the syncs did."""

    total: int
    examined: int = 0
    report: SweepReport = field(default_factory=SweepReport)
    done: bool = False
    waited: int = 0  # times the sweeper held the task and the driver waited
    resumed: bool = False

    def absorb(self, report: SweepReport) -> None:
        self.report.resynced += report.resynced
        self.report.busy += report.busy
        self.report.errors += report.errors
        self.report.outcomes.update(report.outcomes)


class _CountingBudget(Budget):
    """A chunk's budget that counts the items examined (a practice resync asks ``can_sync`` before each
    sync; an integration's backfill spends ``backfill_items``, one per item compared) and stops when the
    operator asks."""

    def __init__(self, syncs: int, should_stop: Callable[[], bool]) -> None:
        super().__init__(syncs=syncs, reads=CHUNK_READS, backfill_items=syncs,
                         remaining_ms=lambda: 0 if should_stop() else 10**9)
        self.asked = 0
        self.items = syncs

    @property
    def examined(self) -> int:
        return self.asked + self.items - self.backfill_items

    def can_sync(self) -> bool:
        allowed = super().can_sync()
        self.asked += allowed
        return allowed


@dataclass
class Resync:
    """One stored resync task, driven in the foreground by :meth:`drive`."""

    name: str
    prefix: str
    job: TaskJob
    total: int
    resumed: bool

    def drive(self, on_progress: Callable[[Progress], None] = lambda _: None,
              should_stop: Callable[[], bool] = lambda: False, stop_after: int | None = None) -> Progress:
        """Runs chunks until the task is complete, ``should_stop`` says so, or ``stop_after`` syncs are done
        (the rest stays for the next run or the sweeper)."""
        progress = Progress(total=self.total, resumed=self.resumed)
        while not should_stop():
            task = sweeps.get(self.name, _now())
            if task is None:
                progress.done = True
                break
            left = None if stop_after is None else stop_after - progress.report.syncs
            if left is not None and left <= 0:
                break
            if task.leased:
                progress.waited += 1
                on_progress(progress)
                time.sleep(WAIT_SECONDS)
                continue
            budget = _CountingBudget(min(CHUNK_SYNCS, left) if left is not None else CHUNK_SYNCS, should_stop)
            work = Run(_now(), budget)
            work.task(task, self.prefix, self.job)
            progress.examined += budget.examined
            progress.absorb(work.report)
            on_progress(progress)
        return progress


def _task(name: str, restart: bool, schedule: Callable[[], None]) -> bool:
    """Schedules the task unless an unfinished one is to be resumed; True when resuming."""
    existing = sweeps.get(name, _now())
    if existing is not None and existing.cursor and not restart:
        return True
    schedule()
    return False


def integration(integration_id: str, *, restart: bool = False) -> Resync:
    """The resync of one integration's whole window (the sweeper's ``resync#<id>`` task)."""
    found = integrations.get(integration_id)
    if found is None:
        raise ConfigurationError(f"no such integration: {integration_id}")
    name = recovery.resync_task(integration_id)
    resumed = _task(name, restart, lambda: recovery.schedule_resync(integration_id, _now()))
    now = _now()
    total = ledger.count(integration_id) + appointments.count_window(
        found.owner_key, now - dt.timedelta(days=found.window.past_days),
        now + dt.timedelta(days=found.window.future_days))
    return Resync(name, recovery.RESYNC_PREFIX, backfill_window, total, resumed)


def practice(tenant_id: str, practice_id: str, window: SyncWindow | None = None, *, restart: bool = False) -> Resync:
    """The resync of every appointment of one practice in ``window`` (default: a sync window's default)."""
    window = window or SyncWindow()
    name = practice_task(tenant_id, practice_id, window.past_days, window.future_days)
    resumed = _task(name, restart, lambda: sweeps.schedule(name, _now()))
    owner, start, end = practice_window(name, _now())
    return Resync(name, PRACTICE_PREFIX, resync_practice, appointments.count_window(owner, start, end), resumed)
