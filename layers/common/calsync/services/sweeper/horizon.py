"""Job 5, the detail horizon: a practice policy may give full details only for the next N days
(``PrivacyPolicy.detail_days``) and busy-only beyond. As days pass, appointments come inside the horizon;
this job finds, per tenant with such a policy, the appointments whose start crossed it since its last
pass and brings their calendars up to date (the engine renders them with details now). Hourly per
tenant, so details arrive within an hour of entering the horizon.
"""

from __future__ import annotations

import datetime as dt

from calsync.domain import rules
from calsync.domain.model import Integration
from calsync.services import policies
from calsync.services.sweeper.context import PAGE, Cursor, Run
from calsync.store import appointments, integrations, ledger, sweeps

PASS_INTERVAL = dt.timedelta(hours=1)


def crossed_horizon(run: Run, _integration: Integration | None, task: sweeps.Task) -> Cursor | None:
    tenant_id = task.name.removeprefix(policies.HORIZON_PREFIX)
    policy = run.engine.ports.policies.for_tenant(tenant_id)
    if policy is None or policy.detail_days is None:
        return None  # no horizon any more: the task ends
    horizon = run.now + dt.timedelta(days=policy.detail_days)
    cursor = dict(task.cursor or {})
    since = dt.datetime.fromtimestamp(cursor.get("boundary", int(run.now.timestamp())), dt.UTC)
    after = cursor.get("after")
    while run.budget.can_sync():
        ids, next_after = integrations.of_tenant(tenant_id, after, PAGE)
        run.budget.read(max(1, len(ids)))
        for integration_id in ids:
            integration = run.integrations.get(integration_id)
            if integration is not None and integration.direction.pushes and not _bring_in(run, integration, since,
                                                                                          horizon):
                return {**cursor, "after": after}
            after = integration_id
        if next_after is None:
            return {"boundary": int(horizon.timestamp()),
                    "not_before": int((run.now + PASS_INTERVAL).timestamp())}
        after = next_after
    return {**cursor, "after": after}


def _bring_in(run: Run, integration: Integration, since: dt.datetime, horizon: dt.datetime) -> bool:
    """Syncs the integration's appointments that start in (since, horizon]; False when the budget ran out."""
    token = None
    while True:
        page, more = appointments.window_page(integration.owner_key, since, horizon, token, PAGE)
        run.budget.read(max(1, len(page)))
        snapshots = run.snapshots(key for key, _ in page)
        held = ledger.get_many(((integration.integration_id, key) for key, _ in page), run.now)
        policy = run.engine.ports.policies.for_tenant(integration.tenant_id)
        for key, resume in page:
            appointment = snapshots.get(key)
            if appointment is None or not since < appointment.start <= horizon:
                token = resume
                continue
            if not run.budget.can_sync():
                return False
            if rules.drift(integration, appointment, held.get((integration.integration_id, key)), run.now, policy):
                run.sync(integration, appointment)
            token = resume
        if not more:
            return True
