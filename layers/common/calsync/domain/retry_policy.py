"""The retry policy: when a failed sync is tried again, and when calsync gives up.

Attempts after a transient failure wait 1, 5, 15, 30 and 60 minutes (±10 % jitter so a provider
outage does not come back as a thundering herd); a provider's own ``Retry-After`` wins when it is
longer. After the fifth failed retry the item is dead and an operator is told.
"""

from __future__ import annotations

import datetime as dt
import random

from calsync.core.errors import ProviderConflictError, ProviderError, ProviderRateLimitedError

DELAYS_SECONDS = (60, 300, 900, 1800, 3600)
MAX_RETRIES = len(DELAYS_SECONDS)
JITTER = 0.1
RETRY_REASONS = ("rate_limited", "unavailable", "conflict")
"""Why a retry was scheduled, as a closed set (a metric dimension: the provider's own codes are not)."""


def next_attempt(failures: int, now: dt.datetime, retry_after: float | None = None,
                 rng: random.Random | None = None) -> dt.datetime | None:
    """When to try again after the ``failures``-th consecutive failure; None means give up (dead)."""
    if failures < 1:
        raise ValueError("failures counts from 1")
    if failures > MAX_RETRIES:
        return None
    base = DELAYS_SECONDS[failures - 1]
    jitter = (rng or random).uniform(-JITTER, JITTER) * base
    delay = max(base + jitter, retry_after or 0.0)
    return now + dt.timedelta(seconds=delay)


def retry_reason(error: ProviderError) -> str:
    """The :data:`RETRY_REASONS` entry of a retryable error: throttled, down or slow, or a lost etag race."""
    if isinstance(error, ProviderRateLimitedError):
        return "rate_limited"
    if isinstance(error, ProviderConflictError):
        return "conflict"
    return "unavailable"
