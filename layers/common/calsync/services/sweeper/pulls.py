"""Job 11, pulls due: integrations whose next pull has come (``calsync.store.pulls``' sparse ``due`` index)
get a pull job queued — CalDAV calendars at their polling interval, every two-way integration at least
every 15 minutes whether or not a notification came (the safety net), channels before they expire, a held
removal when it may be confirmed, and a pull that died when its lease ran out. Queuing is coalesced per
integration, so a run that finds one still waiting adds nothing."""

from __future__ import annotations

from calsync.services.sweeper.context import Run
from calsync.services.twoway.requests import request_pull
from calsync.store import pulls

MAX_QUEUED = 100
"""Pull jobs one run queues at most (the rest are still due for the next run)."""


def queue_due_pulls(run: Run) -> None:
    if not run.budget.can_read():
        return
    due = pulls.due(run.now, limit=MAX_QUEUED)
    run.budget.read(max(1, len(due)))
    for integration_id in due:
        if request_pull(integration_id, "due", run.now):
            run.report.pulls_queued += 1
