"""Job 6, retention of what was pushed: a visit that ended more than ``past_busy_after_days`` ago (the
privacy setting that carries a tenant's policy, ``calsync retention``) is rewritten in the calendar as
"Busy" only — no client, no visit type, no location, no links.

What the calendar should show is ``rules.desired`` as always (``privacy.rendered`` turns busy-only on
the day the policy says), so the gap sweep and every resync agree with this job; the job only finds the
visits that crossed the line since its last pass and syncs them through the engine, within the run's
budget like every other job. A pass runs every :data:`RETENTION_INTERVAL`, walks the integrations that
have a policy (a paged Scan) and, for each, the appointments that ended in the last :data:`LOOKBACK`
before its cut-off (a missed day is caught up; the whole past is rewritten by the resync that a change
of settings schedules).
"""

from __future__ import annotations

import datetime as dt

from calsync.core.observability import Metric, count, logger
from calsync.domain import rules
from calsync.domain.model import Integration
from calsync.domain.rules import Outcome
from calsync.services.sweeper.context import PAGE, Cursor, Run
from calsync.store import appointments, integrations, ledger

RETENTION_TASK = "retention"
RETENTION_INTERVAL = dt.timedelta(hours=12)
LOOKBACK = dt.timedelta(days=2)
"""How far before the cut-off a pass looks: two passes a day, so a visit is missed only if the sweeper
stopped for two days (then the next resync catches it)."""


def neutralise_past(run: Run) -> None:
    run.periodic(RETENTION_TASK, RETENTION_INTERVAL, _advance)


def _advance(run: Run, cursor: Cursor) -> bool:
    """Walks the integrations page by page (``after``; ``queue``: those of the page with a policy), and
    within the first of the queue its appointments (``window``)."""
    queue: list[str] = cursor.setdefault("queue", [])
    while run.budget.can_sync():
        if queue:
            integration = run.integrations.get(queue[0])
            if integration is not None and _has_policy(integration) and not _advance_one(run, integration, cursor):
                return False
            queue.pop(0)
            cursor.pop("window", None)
        elif cursor.get("scanned"):
            return True
        else:
            found, after = integrations.scan_page(cursor.get("after"), PAGE)
            run.budget.read(max(1, len(found)))
            queue.extend(integration.integration_id for integration in found if _has_policy(integration))
            cursor["after"], cursor["scanned"] = after, after is None
    return False


def _has_policy(integration: Integration) -> bool:
    return integration.privacy.past_busy_after_days is not None and integration.accepts_pushes


def _advance_one(run: Run, integration: Integration, cursor: Cursor) -> bool:
    """Syncs this integration's visits that crossed the cut-off; False when the budget ran out first."""
    days = integration.privacy.past_busy_after_days
    assert days is not None
    cut_off = run.now - dt.timedelta(days=days)
    while run.budget.can_sync():
        page, more = appointments.window_page(integration.owner_key, cut_off - LOOKBACK - dt.timedelta(days=1),
                                              cut_off, cursor.get("window"), PAGE)
        run.budget.read(max(1, len(page)))
        snapshots = run.snapshots(key for key, _ in page)
        held = ledger.get_many(((integration.integration_id, key) for key, _ in page), run.now)
        for key, resume in page:
            if not run.budget.can_sync():
                return False
            appointment = snapshots.get(key)
            if (appointment is not None and cut_off - LOOKBACK < appointment.end <= cut_off
                    and rules.drift(integration, appointment, held.get((integration.integration_id, key)), run.now)
                    and run.sync(integration, appointment) is Outcome.WRITTEN):
                run.report.neutralised += 1
                count(Metric.PAST_EVENT_NEUTRALISED)
                logger.info("past event neutralised", extra={"integration_id": integration.integration_id,
                                                             "tenant_id": integration.tenant_id,
                                                             "appointment_id": appointment.appointment_id})
            cursor["window"] = resume
        if not more:
            return True
    return False
