"""The retry sweeper: the engine's background work, run every minute, bounded, resumable.

One run, in this order, until its budget (syncs, items read) or its time is spent:

1. **due retries** (``due``) — ledger items whose ``next_attempt_at`` has come (the sparse ``due`` index);
2. **recovery probes** (``probes``) — one parked item of each integration in ``error``, to see whether the cause
   has cleared (``calsync.services.recovery``);
3. **replays** (``replay``) — parked and dead work of integrations that are ``active`` again;
4. **backfills** (``backfill``) — a whole window compared with the calendar (a new connection, resume with
   backfill, a settings change or a privacy policy change, an operator's resync), at the provider's pace: workers
   side by side, batch requests where the provider has them, a per-minute allowance per calendar, and a progress
   record; and an operator's practice resync (``practice``) that was left unfinished;
5. **policy boundaries** (``horizon``) — appointments that crossed a practice policy's time boundaries since
   the last pass: those that came inside its detail horizon get their details, visits past its retention
   line are rewritten busy-only;
6. **booking-platform exports** (``platform_exports``) — calendar exports of platforms without webhooks, polled
   when due;
7. **booking-platform follow-ups** (``platform_fetches``) — fetch-backs a platform could not answer yet, and
   reschedule holds whose new booking never came;
8. **the gap sweep** (``gap``) — each appointment change compared with each integration's ledger a minute and an
   hour after it arrived; those behind are synced (a missed event, a crash between the provider write and the
   ledger write). It comes after the jobs that deliver changes no calendar has yet;
9. **the census** (``census``) — integrations counted by status for the dashboard, every 15 minutes;
10. **renewal hooks** (``renewal``) — hooks registered by code that owns something with an expiry
    (:func:`register_renewal`);
11. **pulls due** (``pulls``) — two-way sync: CalDAV polling, the 15-minute safety net, channel renewal and
    held removals, as pull jobs queued for the pull worker.

Every sync goes through the engine (``Run.sync`` in ``context``) with the *latest stored snapshot*,
never a stored payload, under the item's ledger lease; an item leased by someone else is skipped, not waited for.
The sweeper syncs directly rather than queueing: the snapshot is read right there, so there is no
payload to go stale; the per-run budget paces a recovering provider instead of a queue's burst; and
nothing new has to be deployed. Where a task stopped is stored (``calsync.store.sweeps``), so the next
run resumes there. Everything is idempotent: overlapping runs, and runs next to the change handler,
at worst find nothing to do.

Each job is one module of this package, working on the shared :class:`~context.Run`; a new job is one
module and one line in :func:`run`.
"""

from __future__ import annotations

import datetime as dt
import time

from calsync.core.observability import Metric, count, logger
from calsync.services import policies, recovery
from calsync.services.engine import Engine
from calsync.services.sweeper.backfill import backfill_window
from calsync.services.sweeper.census import census
from calsync.services.sweeper.context import Budget, Run, SweepReport
from calsync.services.sweeper.due import retry_due
from calsync.services.sweeper.gap import gap_sweep
from calsync.services.sweeper.horizon import crossed_horizon
from calsync.services.sweeper.platform_exports import poll_exports
from calsync.services.sweeper.platform_fetches import follow_up_platforms
from calsync.services.sweeper.practice import PRACTICE_PREFIX, resync_practice
from calsync.services.sweeper.probes import probe
from calsync.services.sweeper.pulls import queue_due_pulls
from calsync.services.sweeper.renewal import register_renewal, renew
from calsync.services.sweeper.replay import replay_parked
from calsync.store import sweeps

__all__ = ["Budget", "SweepReport", "register_renewal", "replay_now", "resync_now", "run"]


def run(now: dt.datetime | None = None, *, budget: Budget | None = None, engine: Engine | None = None) -> SweepReport:
    """One sweeper run at ``now`` (tests move the clock instead of sleeping)."""
    now = now or dt.datetime.now(dt.UTC)
    work = Run(now, budget or Budget(), engine)
    started = time.monotonic()
    count(Metric.SWEEP_RUN)
    retry_due(work)
    work.tasks(recovery.PROBE_PREFIX, probe)
    work.tasks(recovery.REPLAY_PREFIX, replay_parked)
    work.tasks(recovery.RESYNC_PREFIX, backfill_window)
    work.tasks(policies.HORIZON_PREFIX, crossed_horizon)
    work.tasks(PRACTICE_PREFIX, resync_practice)
    poll_exports(work)
    follow_up_platforms(work)
    gap_sweep(work)
    census(work)
    renew(work)
    queue_due_pulls(work)
    work.report.cut_short = work.budget.cut_short
    work.report.reads = work.initial_reads - work.budget.reads
    if work.report.cut_short:
        count(Metric.SWEEP_CUT_SHORT)
    logger.info("sweep finished", extra={**work.report.as_dict(), "seconds": round(time.monotonic() - started, 3)})
    return work.report


def replay_now(integration_id: str, now: dt.datetime, budget: Budget | None = None) -> SweepReport:
    """Runs the integration's scheduled replay at once (a reconnect), as far as ``budget`` allows; the
    next sweeper run goes on from where this stopped."""
    work = Run(now, budget or Budget())
    task = sweeps.get(recovery.replay_task(integration_id), now)
    if task is not None and not task.leased:
        work.task(task, recovery.REPLAY_PREFIX, replay_parked)
    return work.report


def resync_now(integration_id: str, now: dt.datetime, budget: Budget | None = None) -> SweepReport:
    """Runs the integration's scheduled backfill at once (a new connection: its first appointments arrive
    while the clinician watches), as far as ``budget`` allows (its ``backfill_items``: the items compared);
    the next sweeper run goes on from there."""
    work = Run(now, budget or Budget())
    task = sweeps.get(recovery.resync_task(integration_id), now)
    if task is not None and not task.leased:
        work.task(task, recovery.RESYNC_PREFIX, backfill_window)
    return work.report
