"""The one place that creates the Powertools logger and metrics (namespace ``CalSync``).

Log lines carry identifiers only (tenant, appointment, integration, provider) as correlation keys.
Metric dimensions are low-cardinality (provider, outcome). Patient details never go into either.

The libraries underneath log whole requests and responses at DEBUG — botocore the bodies of Secrets
Manager and SQS calls (refresh tokens, client secrets, a dead-lettered event's patient details), msal its
token cache, httpx and pynamodb URLs and items. Their loggers are held at WARNING whatever level the
function runs at (:data:`QUIET_LIBRARIES`), so ``LogLevel: DEBUG`` shows calsync's own reasoning and
nothing of theirs.
"""

from __future__ import annotations

import logging
import threading

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "calsync"
NAMESPACE = "CalSync"

QUIET_LIBRARIES = ("botocore", "boto3", "s3transfer", "urllib3", "pynamodb", "httpx", "httpcore", "msal",
                   "google", "google_auth_oauthlib", "oauthlib", "requests_oauthlib", "aws_lambda_powertools")
"""Logger hierarchies that would log payloads below WARNING. Their children inherit the level."""


def quiet_libraries() -> None:
    """Holds every library logger that could log a payload at WARNING (idempotent)."""
    for name in QUIET_LIBRARIES:
        library = logging.getLogger(name)
        if library.level < logging.WARNING:
            library.setLevel(logging.WARNING)


quiet_libraries()
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


class Metric:
    """Metric names: one list, so dashboards and alarms have a single source."""

    CHANGE_RECEIVED = "ChangeReceived"
    CHANGE_REJECTED = "ChangeRejected"
    STALE_CHANGE_DROPPED = "StaleChangeDropped"
    APPOINTMENT_SYNCED = "AppointmentSynced"
    APPOINTMENT_REMOVED = "AppointmentRemoved"
    SYNC_SKIPPED_UNCHANGED = "SyncSkippedUnchanged"
    SYNC_FAILED = "SyncFailed"
    SYNC_RETRY_SCHEDULED = "SyncRetryScheduled"
    SYNC_PARKED = "SyncParked"
    SYNC_DEAD = "SyncDead"
    SYNC_LAG_SECONDS = "SyncLagSeconds"
    LEASE_CONTENDED = "LeaseContended"
    DRIFT_REPAIRED = "DriftRepaired"  # the gap sweep found a calendar behind its snapshot and synced it
    WORK_REPLAYED = "WorkReplayed"  # parked or dead work replayed after its integration recovered
    BACKFILL_WRITTEN = "BackfillWritten"  # events a backfill wrote or removed (progress: calsync.cli.backfill)
    SWEEP_RUN = "SweepRun"  # one per sweeper run: its absence means nothing is being retried
    SWEEP_CUT_SHORT = "SweepCutShort"  # a sweeper run stopped on its budget or its deadline with work left
    FEED_SERVED = "FeedServed"
    FEED_NOT_MODIFIED = "FeedNotModified"
    FEED_TOKEN_REJECTED = "FeedTokenRejected"  # noqa: S105 - a metric name, not a secret
    FEED_TOO_LARGE = "FeedTooLarge"
    FEED_REDIRECTED = "FeedRedirected"  # a body too large for one response, sent from its stored copy
    FEED_THROTTLED = "FeedThrottled"  # one URL fetched more often than its allowance: 429


_metrics_lock = threading.Lock()
"""The syncs of one change run in threads (``calsync.services.fanout``); Powertools' metric set is a plain
dict read and written back per call, so two threads adding at once could lose a count."""


def count(name: str, value: float = 1) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def seconds(name: str, value: float) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)
