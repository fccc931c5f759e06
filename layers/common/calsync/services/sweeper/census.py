"""Job 7, the census: how many integrations are in each status, counted every :data:`CENSUS_INTERVAL`
and emitted as the level ``Integrations`` by ``status`` (the dashboard's "integrations by status").

A pass walks every integration (a paged Scan of the Integrations table, counted against the run's read
budget, resumed by the next run when it stops); the counts travel in the cursor and are emitted once the
pass is complete, so the dashboard never shows half a count. Transitions are counted as they happen
(``IntegrationStatusChanged``), which is what the alarm on integrations entering ``error`` reads.
"""

from __future__ import annotations

import datetime as dt

from calsync.core.observability import Metric, level_by, logger
from calsync.domain.model import IntegrationStatus
from calsync.services.sweeper.context import Cursor, Run
from calsync.store import integrations

CENSUS_TASK = "census"
CENSUS_INTERVAL = dt.timedelta(minutes=15)
CENSUS_PAGE = 100


def census(run: Run) -> None:
    run.periodic(CENSUS_TASK, CENSUS_INTERVAL, _advance)


def _advance(run: Run, cursor: Cursor) -> bool:
    counts: dict[str, int] = cursor.setdefault("counts", {status.value: 0 for status in IntegrationStatus})
    while run.budget.can_read():
        found, after = integrations.scan_page(cursor.get("after"), CENSUS_PAGE)
        run.budget.read(max(1, len(found)))
        for integration in found:
            counts[integration.status.value] = counts.get(integration.status.value, 0) + 1
        if after is None:
            level_by(Metric.INTEGRATIONS, "status", counts)
            logger.info("integration census", extra={"counts": counts})
            return True
        cursor["after"] = after
    return False
