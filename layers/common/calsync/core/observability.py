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
    SWEEP_RUN = "SweepRun"  # one per sweeper run: its absence means nothing is being retried
    SWEEP_CUT_SHORT = "SweepCutShort"  # a sweeper run stopped on its budget or its deadline with work left
    # two-way sync
    NOTIFICATION_ACCEPTED = "NotificationAccepted"  # a verified push notification asked for a pull
    NOTIFICATION_REJECTED = "NotificationRejected"  # unknown, expired or forged: answered 401/404
    NOTIFICATION_ACKNOWLEDGED = "NotificationAcknowledged"  # a channel's sync message, a replay, a handshake
    PULL_QUEUED = "PullQueued"
    PULL_COALESCED = "PullCoalesced"  # a request found a pull job waiting already
    PULL_RUN = "PullRun"
    PULL_JOB_REJECTED = "PullJobRejected"  # not a pull job: sent to the pull dead-letter queue
    PULL_FAILED = "PullFailed"  # a calendar could not be read; the next pull tries again soon
    SYNC_STATE_LOST = "SyncStateLost"  # a sync token or delta link expired: the window was read in full
    BUSY_BLOCKS_CHANGED = "BusyBlocksChanged"
    REMOVAL_HELD = "RemovalHeld"  # a pull would remove many busy blocks at once: held (alarmed)
    REMOVAL_CONFIRMED = "RemovalConfirmed"
    EDIT_REVERTED = "EditReverted"  # a clinician's edit of a calsync event was undone
    CONFLICT_DETECTED = "ConflictDetected"
    CONFLICT_RESOLVED = "ConflictResolved"
    WATCH_STARTED = "WatchStarted"
    WATCH_STOPPED = "WatchStopped"
    WATCH_FAILED = "WatchFailed"  # a channel or subscription could not be started (the safety net pulls)
    AVAILABILITY_ANSWERED = "AvailabilityAnswered"
    AVAILABILITY_REFUSED = "AvailabilityRefused"  # a bad range or parameter (400)
    FEED_SERVED = "FeedServed"
    FEED_NOT_MODIFIED = "FeedNotModified"
    FEED_TOKEN_REJECTED = "FeedTokenRejected"  # noqa: S105 - a metric name, not a secret
    FEED_TOO_LARGE = "FeedTooLarge"
    FEED_THROTTLED = "FeedThrottled"  # one URL fetched more often than its allowance: 429


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def seconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)
