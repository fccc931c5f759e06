"""Asking for a pull: what a notification, a lifecycle step or the sweeper does, coalesced per integration.

The first request since the integration's last pull started queues a job for the pull worker; the
requests after it, until that pull starts, find the job waiting and add nothing (``calsync.store.pulls``).
So a burst of notifications costs one pull, and a pull never misses a request made while it ran.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from calsync.aws import jobs
from calsync.core.observability import Metric, count, logger
from calsync.core.settings import get_settings
from calsync.store import pulls


def job(integration_id: str, reason: str) -> dict[str, Any]:
    return {"integration_id": integration_id, "reason": reason}


def request_pull(integration_id: str, reason: str, now: dt.datetime | None = None, *, full: bool = False,
                 renew: bool = False) -> bool:
    """Asks for a pull of the integration; True when a job was queued (False: one was waiting already,
    or no queue is configured here and the sweeper queues it when it is due)."""
    now = now or dt.datetime.now(dt.UTC)
    if not get_settings().pull_queue_url:
        pulls.schedule(integration_id, now, full=full)
        return False
    if not pulls.request(integration_id, now, full=full, renew=renew):
        count(Metric.PULL_COALESCED)
        return False
    try:
        jobs.send_pull(job(integration_id, reason))
    except Exception:
        pulls.unqueue(integration_id)  # not queued after all: the next request tries again
        raise
    count(Metric.PULL_QUEUED)
    logger.info("pull queued", extra={"integration_id": integration_id, "reason": reason})
    return True
