"""The one place that creates the Powertools logger and metrics (namespace ``CalSync``).

Log lines carry identifiers only (tenant, appointment, integration, provider) as correlation keys.
Metric dimensions are low-cardinality (provider, outcome). Patient details never go into either.

Every metric is emitted with the dimension ``service``; :func:`count_by` and :func:`seconds_by` also emit it
broken down by one more dimension of a closed set of values. The dashboard and the alarms in template.yaml
read exactly what the code emits, and everything it emits:
``tests/infrastructure/test_metric_agreement.py`` derives the emitted (name, dimensions) pairs from the
calls of these functions in the code and compares them with the template.

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
from aws_lambda_powertools.metrics import MetricUnit, single_metric

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
    FEED_REDIRECTED = "FeedRedirected"  # a body too large for one response, sent from its stored copy
    FEED_THROTTLED = "FeedThrottled"  # one URL fetched more often than its allowance: 429
    DRIFT_FOUND = "DriftFound"  # the gap sweep found a calendar behind its snapshot (DriftRepaired: and synced it)
    INTEGRATION_STATUS_CHANGED = "IntegrationStatusChanged"  # dimension status: the status entered
    INTEGRATIONS = "Integrations"  # the census: integrations by status, counted by the sweeper every 15 minutes
    DISCLOSURE_RECORDED = "DisclosureRecorded"  # an audit record of content written to a calendar
    PAST_EVENT_NEUTRALISED = "PastEventNeutralised"  # a past visit rewritten busy-only by the tenant's policy
    WEBHOOK_ACCEPTED = "WebhookAccepted"
    WEBHOOK_REJECTED = "WebhookRejected"  # dimension reason: calsync.platforms.base.Reason
    WEBHOOK_FAILED = "WebhookFailed"  # calsync's own trouble (DynamoDB, the bus): answered 503, the platform retries
    PLATFORM_CHANGE_PUBLISHED = "PlatformChangePublished"
    PLATFORM_CHANGE_UNMAPPED = "PlatformChangeUnmapped"  # no practitioner configured for the platform's staff id
    PLATFORM_RESCHEDULE_HELD = "PlatformRescheduleHeld"
    PLATFORM_FETCH_DEFERRED = "PlatformFetchDeferred"  # the platform's API failed for now: retried by the sweeper
    PLATFORM_FETCH_DEAD = "PlatformFetchDead"
    PLATFORM_EXPORT_POLLED = "PlatformExportPolled"
    PLATFORM_EXPORT_FAILED = "PlatformExportFailed"


_metrics_lock = threading.Lock()
"""The syncs of one change run in threads (``calsync.services.fanout``); Powertools' metric set is a plain
dict read and written back per call, so two threads adding at once could lose a count."""


def count(name: str, value: float = 1) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def seconds(name: str, value: float) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)


def count_by(name: str, dimension: str, value: str) -> None:
    """One count, both in total (dimension ``service`` only, like every other metric) and broken down by
    one extra dimension (a closed set of values only: never ids or content)."""
    count(name)
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE}) as metric:
        metric.add_dimension(name=dimension, value=value)


def seconds_by(name: str, dimension: str, value: str, amount: float) -> None:
    """A duration, in total and broken down by one extra dimension (as :func:`count_by`): the total keeps
    the percentiles an alarm needs (percentiles of the parts do not add up to the whole)."""
    seconds(name, amount)
    with single_metric(name=name, unit=MetricUnit.Seconds, value=amount, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE}) as metric:
        metric.add_dimension(name=dimension, value=value)


def level_by(name: str, dimension: str, levels: dict[str, int]) -> None:
    """A level (how many there are now, not how many happened), in total and per value of ``dimension``;
    every value is emitted, zeros included, so a graph shows 0 rather than a gap."""
    total = sum(levels.values())
    with single_metric(name=name, unit=MetricUnit.Count, value=total, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE}):
        pass
    for value, amount in sorted(levels.items()):
        with single_metric(name=name, unit=MetricUnit.Count, value=amount, namespace=NAMESPACE,
                           default_dimensions={"service": SERVICE}) as metric:
            metric.add_dimension(name=dimension, value=value)
