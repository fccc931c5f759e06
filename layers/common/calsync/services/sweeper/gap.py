"""Job 8, the gap sweep: every appointment whose change arrived in the last 24 hours is compared with
each integration's ledger, and those behind are synced — a missed event, a crash between the provider
write and the ledger write, an integration that recovered.

A pass walks the ``by_changed_day`` index partitions of the two UTC days the look-back spans; it may
take several runs (its cursor is stored in the ``gap`` task), and a new pass starts at most every
:data:`GAP_INTERVAL`.
"""

from __future__ import annotations

import datetime as dt

from calsync.core.observability import Metric, count, logger
from calsync.domain import rules
from calsync.services.sweeper.context import PAGE, TASK_LEASE_SECONDS, Cursor, Run
from calsync.store import appointments, ledger, sweeps

LOOKBACK = dt.timedelta(hours=24)
GAP_INTERVAL = dt.timedelta(minutes=10)
"""A new gap-sweep pass starts at most this often (a pass may take several runs)."""
SETTLE = dt.timedelta(seconds=60)
"""Changes younger than this at the start of a pass are left to the handler (and the next pass)."""
GAP_TASK = "gap"


def gap_sweep(run: Run) -> None:
    task = sweeps.get(GAP_TASK, run.now)
    if task is None:
        sweeps.schedule_if_absent(GAP_TASK, run.now)
        task = sweeps.get(GAP_TASK, run.now)
    if task is None or task.leased or (task.not_before is not None and task.not_before > run.now):
        return
    if not sweeps.claim(task, run.owner, run.now, TASK_LEASE_SECONDS):
        return
    cursor = task.cursor if task.cursor and "pass" in task.cursor else {"pass": int(run.now.timestamp()), "bucket": 0}
    try:
        done = _advance(run, cursor)
    except Exception:  # a killed process releases nothing: the task's lease expires instead
        sweeps.release(task, run.owner, run.now, task.cursor)
        raise
    if done:
        started = dt.datetime.fromtimestamp(cursor["pass"], dt.UTC)
        sweeps.release(task, run.owner, run.now, {"last_pass": cursor["pass"]},
                       not_before=max(run.now, started + GAP_INTERVAL))
    else:
        sweeps.release(task, run.owner, run.now, cursor)


def _advance(run: Run, cursor: Cursor) -> bool:
    """Advances one pass (mutating ``cursor``); True when the pass is complete."""
    started = dt.datetime.fromtimestamp(cursor["pass"], dt.UTC)
    oldest, newest = started - LOOKBACK, started - SETTLE
    days = sorted({oldest.date(), started.date()})
    buckets = [bucket for day in days for bucket in appointments.changed_day_buckets(day)]
    while cursor["bucket"] < len(buckets):
        if not run.budget.can_sync():
            return False
        keys, next_after = appointments.changed_page(buckets[cursor["bucket"]], cursor.get("after"), PAGE)
        run.budget.read(max(1, len(keys)))
        received = appointments.get_many(keys)
        run.budget.read(len(keys))
        for key in keys:
            if not run.budget.can_sync():
                return False
            found = received.get(key)
            if found is not None and oldest <= found.received_at <= newest:
                _repair(run, found)
            cursor["after"] = key
        if next_after is None:
            cursor["bucket"] += 1
            cursor.pop("after", None)
    return True


def _repair(run: Run, found: appointments.Received) -> None:
    run.report.gap_examined += 1
    appointment = found.appointment
    targets = run.engine.targets(appointment, found.holders, run.integrations)
    key = appointment.key
    entries = ledger.get_many(((i.integration_id, key) for i in targets), run.now)
    run.budget.read(len(targets) + 1)
    for integration in targets:
        reason = rules.drift(integration, appointment, entries.get((integration.integration_id, key)), run.now,
                             run.engine.ports.policies.for_tenant(appointment.tenant_id))
        if reason is None or not run.budget.can_sync():
            continue
        outcome = run.sync(integration, appointment)
        if outcome is not None:
            run.report.gap_repaired += 1
            count(Metric.DRIFT_REPAIRED)
            logger.warning("drift repaired", extra={"integration_id": integration.integration_id,
                                                    "drift": reason, "outcome": outcome.value})
