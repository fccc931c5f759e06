"""Job 2, recovery probes: one parked (or dead) item of each integration in ``error`` is tried again,
backing off (``calsync.services.recovery.probe_delay``). A write that succeeds means the cause has
cleared, and the engine recovers the integration."""

from __future__ import annotations

from calsync.domain.ledger import LedgerState
from calsync.domain.model import Integration, IntegrationStatus
from calsync.domain.rules import Outcome
from calsync.services import recovery
from calsync.services.sweeper.context import PAGE, Cursor, Run
from calsync.store import ledger, sweeps

PROBE_TRIES = 3
"""Items tried per probe (a snapshot may be gone, or the item unchanged)."""


def probe(run: Run, integration: Integration | None, task: sweeps.Task) -> Cursor | None:
    if integration is None or integration.status is not IntegrationStatus.ERROR:
        return None
    probes = int((task.cursor or {}).get("probes", 0)) + 1
    retry_later = {"probes": probes, "not_before": int((run.now + recovery.probe_delay(probes)).timestamp())}
    after: str | None = None
    tries = 0
    while tries < PROBE_TRIES and run.budget.can_sync():
        entries, after = ledger.page(integration.integration_id, after, PAGE,
                                     (LedgerState.PARKED, LedgerState.DEAD), run.now)
        run.budget.read(PAGE)
        for entry in entries[:PROBE_TRIES - tries]:
            appointment = run.snapshot(integration.integration_id, entry.appointment_key)
            if appointment is None:
                continue
            tries += 1
            run.report.probed += 1
            outcome = run.sync(integration, appointment, probe=True)
            if integration.status is not IntegrationStatus.ERROR:
                return None  # recovered: the probe task is gone and a replay is scheduled
            if outcome not in (Outcome.UNCHANGED, Outcome.SUPERSEDED):
                return retry_later  # still failing (or busy): wait longer
        if after is None:
            break
    return retry_later if tries else None  # nothing parked is left to probe: a reconnect recovers it
