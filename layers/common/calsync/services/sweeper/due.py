"""Job 1, due retries: ledger items whose ``next_attempt_at`` has come (the ledger's sparse ``due``
index), synced with the latest snapshot."""

from __future__ import annotations

from calsync.services.sweeper.context import MAX_READS, Run
from calsync.store import ledger

DUE_SHARE = 2
"""Due retries take at most 1/DUE_SHARE of a run's syncs, so the other jobs are never starved."""


def retry_due(run: Run) -> None:
    cap = max(1, run.budget.syncs // DUE_SHARE)
    run.budget.read()
    for integration_id, appointment_key in ledger.due(run.now, limit=min(cap, MAX_READS)):
        if cap <= 0 or not run.budget.can_sync():
            return
        if integration_id in run.throttled:
            continue
        integration = run.integrations.get(integration_id)
        if integration is None:
            if run.engine.retire(integration_id, appointment_key, "integration_gone", run.now):
                run.report.retired += 1
            continue
        appointment = run.snapshot(integration_id, appointment_key)
        if appointment is not None and run.sync(integration, appointment) is not None:
            run.report.retried += 1
            cap -= 1
