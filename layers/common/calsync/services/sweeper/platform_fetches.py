"""Job 7, booking-platform follow-ups: fetch-backs a platform could not answer during its webhook (429,
5xx, a timeout), retried on calsync's one schedule, and reschedule holds whose new booking never came
(``calsync.services.platforms.fetching``); one sync of the run's budget each."""

from __future__ import annotations

from calsync.core.errors import CalSyncError
from calsync.core.observability import logger
from calsync.services.platforms import fetching
from calsync.services.sweeper._intake import claimed
from calsync.services.sweeper.context import Run
from calsync.store.platform_intake import Kind

LEASE_SECONDS = 120
"""How long a claimed follow-up is invisible to an overlapping run (more than one fetch-back takes)."""


def follow_up_platforms(run: Run) -> None:
    for kind, work in ((Kind.FETCH, fetching.retry_fetch), (Kind.HELD, fetching.resolve_hold)):
        for record in claimed(run, kind, LEASE_SECONDS):
            try:
                work(record, run.now)
            except CalSyncError as error:  # e.g. the bus: the claim lapses and the next run tries again
                logger.error("platform follow-up failed", extra={"platform": record.platform,
                                                                 "tenant_id": record.tenant_id,
                                                                 "error": type(error).__name__})
            run.report.platform_follow_ups += 1
