"""Job 8, the gap sweep: every appointment change is compared with each integration's ledger a minute after
it arrived and again an hour later, and the calendars behind are synced — a missed event, a crash between
the provider write and the ledger write, a lease that was still held at the first look.

A *pass* examines the changes received in one span of time, [from, to), for one look (:data:`LAGS`): it
reads the ``by_changed_day`` index slots (10 minutes each) overlapping the span, and nothing else. The
next pass for that look starts where this one ended, so each change is read about twice per look instead
of on every pass of a rolling 24-hour window; a tenant's history, and the day's volume before the span,
cost nothing. After a sweeper outage a pass reaches back at most :data:`LOOKBACK`. A pass may take several
runs: where it stopped is stored in the ``gap`` task's cursor.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from calsync.core.observability import Metric, count, logger
from calsync.services.sweeper.context import PAGE, TASK_LEASE_SECONDS, Cursor, Run
from calsync.store import appointments, sweeps

LAGS = (dt.timedelta(minutes=1), dt.timedelta(hours=1))
"""When each change is examined, after it arrived: once it has settled (a minute: the handler's own lease
has expired by then), and once more an hour later for what the first look could not settle."""
LOOKBACK = dt.timedelta(hours=24)
"""How far back a pass reaches, at most (after the sweeper was not running for a while)."""
GAP_INTERVAL = appointments.CHANGED_SLOT
"""A new pass of one look starts at most this often: a slot of the index is then read by at most two
passes of each look."""
GAP_TASK = "gap"


def gap_sweep(run: Run) -> None:
    task = sweeps.get(GAP_TASK, run.now)
    if task is None:
        sweeps.schedule_if_absent(GAP_TASK, run.now)
        task = sweeps.get(GAP_TASK, run.now)
    if task is None or task.leased or not sweeps.claim(task, run.owner, run.now, TASK_LEASE_SECONDS):
        return
    state: Cursor = dict(task.cursor or {})
    try:
        _sweep(run, state)
    except Exception:  # a killed process releases nothing: the task's lease expires instead
        sweeps.release(task, run.owner, run.now, task.cursor)
        raise
    sweeps.release(task, run.owner, run.now, state)


def _sweep(run: Run, state: Cursor) -> None:
    """Goes on with the pass in progress, then starts the passes that are due, as far as the budget allows
    (mutating ``state``: ``done`` per look, and the ``pass`` in progress)."""
    done: dict[str, int] = state.setdefault("done", {})
    for look, lag in enumerate(LAGS):
        current: dict[str, Any] | None = state.get("pass")
        if current is None or current["look"] != look:
            if current is not None:
                continue  # another look's pass is in progress: it goes first
            until = int((run.now - lag).timestamp())
            since = max(done.get(str(look), 0), int((run.now - LOOKBACK).timestamp()))
            if str(look) in done and until - since < GAP_INTERVAL.total_seconds():
                continue  # the last pass of this look was less than an interval ago
            current = state["pass"] = {"look": look, "from": since, "to": until, "bucket": 0}
        if not _advance(run, current):
            return
        done[str(look)] = current["to"]
        del state["pass"]


def _advance(run: Run, current: dict[str, Any]) -> bool:
    """Walks one pass (mutating ``current``); True when it is complete, False when the budget ran out."""
    since = dt.datetime.fromtimestamp(current["from"], dt.UTC)
    until = dt.datetime.fromtimestamp(current["to"], dt.UTC)
    buckets = appointments.changed_buckets(since, until)
    while current["bucket"] < len(buckets):
        if not run.budget.can_sync():
            return False
        keys, next_after = appointments.changed_page(buckets[current["bucket"]], current.get("after"), PAGE)
        run.budget.read(max(1, len(keys)))
        received = appointments.get_many(keys)
        run.budget.read(len(keys))
        for key in keys:
            if not run.budget.can_sync():
                return False
            found = received.get(key)
            if found is not None and since <= found.received_at < until:
                _repair(run, found)
            current["after"] = key
        if next_after is None:
            current["bucket"] += 1
            current.pop("after", None)
    return True


def _repair(run: Run, found: appointments.Received) -> None:
    run.report.gap_examined += 1
    for integration, reason, outcome in run.bring_in_step(found):
        count(Metric.DRIFT_FOUND)
        if outcome is not None:
            run.report.gap_repaired += 1
            count(Metric.DRIFT_REPAIRED)
            logger.warning("drift repaired", extra={"integration_id": integration.integration_id,
                                                    "tenant_id": found.appointment.tenant_id,
                                                    "appointment_id": found.appointment.appointment_id,
                                                    "drift": reason, "outcome": outcome.value})
