"""Job 6, a practice policy's time boundaries. Two of its rules depend on the date, so calendars must be
rewritten as days pass, not only when something changes:

* the **detail horizon** (``PrivacyPolicy.detail_days``): full details only for the next N days, busy-only
  beyond — an appointment that comes inside the horizon gets its details;
* **retention of past visits** (``PrivacyPolicy.past_busy_after_days``): N days after a visit ends its event
  shows only busy — nothing about a past visit stays in a personal calendar for years.

Per tenant with such a policy (a task ``horizon#<tenant>`` that ``services.policies.change`` schedules),
each pass finds, for every integration of the tenant, the appointments whose start crossed the horizon or
whose end crossed the retention line since the last pass, and brings their calendars up to date through the
engine (which renders them under the policy at the run's time). Hourly, so a calendar follows within an
hour; a first pass also catches up :data:`LOOKBACK` of missed days.
"""

from __future__ import annotations

import datetime as dt

from calsync.core.observability import Metric, count
from calsync.domain import rules
from calsync.domain.model import Integration
from calsync.domain.policy import PrivacyPolicy
from calsync.domain.rules import Outcome
from calsync.services import policies
from calsync.services.sweeper.context import PAGE, Cursor, Run
from calsync.store import appointments, integrations, ledger, sweeps

PASS_INTERVAL = dt.timedelta(hours=1)
LOOKBACK = dt.timedelta(days=2)
"""A first pass (or one after the sweeper stopped) also looks this far back across each boundary."""


def crossed_horizon(run: Run, _integration: Integration | None, task: sweeps.Task) -> Cursor | None:
    tenant_id = task.name.removeprefix(policies.HORIZON_PREFIX)
    policy = run.policy(tenant_id)
    if policy is None or (policy.detail_days is None and policy.past_busy_after_days is None):
        return None  # no boundary any more: the task ends
    cursor = dict(task.cursor or {})
    since = dt.datetime.fromtimestamp(cursor.get("since", int((run.now - LOOKBACK).timestamp())), dt.UTC)
    after = cursor.get("after")
    while run.budget.can_sync():
        ids, next_after = integrations.of_tenant(tenant_id, after, PAGE)
        run.budget.read(max(1, len(ids)))
        for integration_id in ids:
            integration = run.integrations.get(integration_id)
            if integration is not None and integration.direction.pushes and not _bring_in(run, integration, policy,
                                                                                          since):
                return {**cursor, "after": after}
            after = integration_id
        if next_after is None:
            return {"since": int(run.now.timestamp()), "not_before": int((run.now + PASS_INTERVAL).timestamp())}
        after = next_after
    return {**cursor, "after": after}


def _spans(policy: PrivacyPolicy, since: dt.datetime, now: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """The (boundary, first, last) instants an appointment's start (horizon) or end (retention) may have
    crossed since the last pass."""
    spans = []
    if policy.detail_days is not None:
        days = dt.timedelta(days=policy.detail_days)
        spans.append(("horizon", since + days, now + days))
    if policy.past_busy_after_days is not None:
        days = dt.timedelta(days=policy.past_busy_after_days)
        spans.append(("retention", since - days, now - days))
    return spans


def _bring_in(run: Run, integration: Integration, policy: PrivacyPolicy, since: dt.datetime) -> bool:
    """Syncs the integration's appointments that crossed a boundary; False when the budget ran out."""
    for boundary, first, last in _spans(policy, since, run.now):
        # appointments are found by start month; a retention span looks a visit's longest length earlier
        search_from = first - (dt.timedelta(days=31) if boundary == "retention" else dt.timedelta(0))
        token = None
        while True:
            page, more = appointments.window_page(integration.owner_key, search_from, last, token, PAGE)
            run.budget.read(max(1, len(page)))
            snapshots = run.snapshots(key for key, _ in page)
            held = ledger.get_many(((integration.integration_id, key) for key, _ in page), run.now)
            for key, resume in page:
                appointment = snapshots.get(key)
                if appointment is None:
                    token = resume
                    continue
                edge = appointment.start if boundary == "horizon" else appointment.end
                if first < edge <= last:
                    if not run.budget.can_sync():
                        return False
                    entry = held.get((integration.integration_id, key))
                    if rules.drift(integration, appointment, entry, run.now, policy) and (
                            run.sync(integration, appointment) is Outcome.WRITTEN and boundary == "retention"):
                        run.report.neutralised += 1
                        count(Metric.PAST_EVENT_NEUTRALISED)
                token = resume
            if not more:
                break
    return True
