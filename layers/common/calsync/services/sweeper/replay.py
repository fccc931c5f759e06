"""Job 3, replays: parked and dead work of an integration that takes pushes again (resumed, reconnected,
recovered), with the latest snapshots."""

from __future__ import annotations

from calsync.core.observability import Metric, count
from calsync.domain.ledger import LedgerState
from calsync.domain.model import Integration
from calsync.services.sweeper.context import PAGE, Cursor, Run
from calsync.store import ledger, sweeps


def replay_parked(run: Run, integration: Integration | None, task: sweeps.Task) -> Cursor | None:
    if integration is None or not integration.accepts_pushes:
        return None  # not (or no longer) active: a resume or recovery schedules a new replay
    after = (task.cursor or {}).get("after")
    while run.budget.can_sync():
        entries, next_after = ledger.page(integration.integration_id, after, PAGE,
                                          (LedgerState.PARKED, LedgerState.DEAD), run.now)
        run.budget.read(PAGE)
        snapshots = run.snapshots(entry.appointment_key for entry in entries)
        for entry in entries:
            if not run.budget.can_sync():
                return {"after": after}
            appointment = snapshots.get(entry.appointment_key)
            if appointment is None:
                appointment = run.snapshot(integration.integration_id, entry.appointment_key)
            if appointment is not None and run.sync(integration, appointment) is not None:
                run.report.replayed += 1
                count(Metric.WORK_REPLAYED)
            if integration.integration_id in run.throttled:
                return {"after": after}  # failing again: resume here next run
            after = entry.appointment_key
        if next_after is None:
            return None
        after = next_after
    return {"after": after}
