"""Job 4, resyncs: a whole window compared with the calendar (a new connection, resume with backfill,
a settings change). First every item the integration's ledger holds, then every appointment in its
window; whatever is behind is synced. A ``pending`` integration is ``active`` once its first resync is
complete."""

from __future__ import annotations

import datetime as dt

from calsync.domain import rules
from calsync.domain.contract import AppointmentChanged
from calsync.domain.ledger import LedgerEntry
from calsync.domain.model import Integration, IntegrationStatus
from calsync.services import recovery
from calsync.services.sweeper.context import PAGE, Cursor, Run
from calsync.store import appointments, ledger, sweeps


def resync_window(run: Run, integration: Integration | None, task: sweeps.Task) -> Cursor | None:
    if integration is None or not integration.direction.pushes or integration.status in (
            IntegrationStatus.PAUSED, IntegrationStatus.DISCONNECTED):
        return None
    cursor = dict(task.cursor or {"phase": "ledger"})
    if cursor["phase"] == "ledger":
        after = cursor.get("after")
        while run.budget.can_sync():
            entries, next_after = ledger.page(integration.integration_id, after, PAGE, (), run.now)
            run.budget.read(PAGE)
            snapshots = run.snapshots(entry.appointment_key for entry in entries)
            for entry in entries:
                if not run.budget.can_sync():
                    return {"phase": "ledger", "after": after}
                _resync_one(run, integration, snapshots.get(entry.appointment_key), entry)
                after = entry.appointment_key
            if next_after is None:
                break
            after = next_after
        else:
            return {"phase": "ledger", "after": after}
        cursor = {"phase": "window"}
    start = run.now - dt.timedelta(days=integration.window.past_days)
    end = run.now + dt.timedelta(days=integration.window.future_days)
    token = cursor.get("after")
    while run.budget.can_sync():
        page, more = appointments.window_page(integration.owner_key, start, end, token, PAGE)
        run.budget.read(PAGE)
        snapshots = run.snapshots(key for key, _ in page)
        held = ledger.get_many(((integration.integration_id, key) for key, _ in page), run.now)
        for key, resume in page:
            if not run.budget.can_sync():
                return {"phase": "window", "after": token}
            _resync_one(run, integration, snapshots.get(key), held.get((integration.integration_id, key)))
            token = resume
        if not more:
            if integration.status is IntegrationStatus.PENDING:  # the first sync is done
                recovery.activated(integration)
            return None
    return {"phase": "window", "after": token}


def _resync_one(run: Run, integration: Integration, appointment: AppointmentChanged | None,
                entry: LedgerEntry | None) -> None:
    policy = run.engine.ports.policies.for_tenant(integration.tenant_id)
    if appointment is not None and rules.drift(integration, appointment, entry, run.now, policy) and (
            run.sync(integration, appointment) is not None):
        run.report.resynced += 1
