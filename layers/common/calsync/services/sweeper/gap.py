"""Job 5, the gap sweep: every appointment whose change arrived in the last 24 hours is compared with
each integration's ledger, and those behind are synced — a missed event, a crash between the provider
write and the ledger write, an integration that recovered.

A pass walks the ``by_changed_day`` index partitions of the two UTC days the look-back spans; it may
take several runs (its cursor is stored in the ``gap`` task), and a new pass starts at most every
:data:`GAP_INTERVAL`.
"""

from __future__ import annotations

import datetime as dt

from calsync.core.observability import Metric, count, logger
from calsync.services.sweeper.context import PAGE, Cursor, Run
from calsync.store import appointments

LOOKBACK = dt.timedelta(hours=24)
GAP_INTERVAL = dt.timedelta(minutes=10)
"""A new gap-sweep pass starts at most this often (a pass may take several runs)."""
SETTLE = dt.timedelta(seconds=60)
"""Changes younger than this at the start of a pass are left to the handler (and the next pass)."""
GAP_TASK = "gap"


def gap_sweep(run: Run) -> None:
    run.periodic(GAP_TASK, GAP_INTERVAL, _advance)


def _advance(run: Run, cursor: Cursor) -> bool:
    """Advances one pass (mutating ``cursor``); True when the pass is complete."""
    started = dt.datetime.fromtimestamp(cursor["pass"], dt.UTC)
    cursor.setdefault("bucket", 0)
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
    for integration, reason, outcome in run.bring_in_step(found):
        count(Metric.DRIFT_FOUND)
        if outcome is not None:
            run.report.gap_repaired += 1
            count(Metric.DRIFT_REPAIRED)
            logger.warning("drift repaired", extra={"integration_id": integration.integration_id,
                                                    "tenant_id": found.appointment.tenant_id,
                                                    "appointment_id": found.appointment.appointment_id,
                                                    "drift": reason, "outcome": outcome.value})
