"""The one place that creates the Powertools logger and metrics (namespace ``CalSync``).

Log lines carry identifiers only (tenant, appointment, integration, provider) as correlation keys.
Metric dimensions are low-cardinality (provider, outcome). Patient details never go into either.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "calsync"
NAMESPACE = "CalSync"

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
    FEED_SERVED = "FeedServed"
    FEED_NOT_MODIFIED = "FeedNotModified"
    FEED_TOKEN_REJECTED = "FeedTokenRejected"  # noqa: S105 - a metric name, not a secret
    FEED_TOO_LARGE = "FeedTooLarge"


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def seconds(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)
