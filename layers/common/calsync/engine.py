"""The sync engine: one appointment change, end to end.

For a change that is not stale: store the snapshot (conditional on its ordering key), find the
integrations that should show it or still hold it, and for each one, under a short ledger lease,
render the snapshot through the integration's privacy settings, skip when the rendered content is
what the calendar already holds, else write it and record the outcome. Because the ledger records
what each calendar holds and the Appointments table what it should hold, nothing is lost: a transient
failure leaves a due retry on the ledger, an auth failure parks the work until the clinician
reconnects, and the sweeper can always find and repair drift.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from calsync import retry_policy, status
from calsync.contract import AppointmentChanged
from calsync.domain import Integration, IntegrationStatus, LedgerEntry, LedgerState
from calsync.errors import (
    LeaseBusyError,
    ProviderAuthError,
    ProviderConflictError,
    ProviderError,
    ProviderGoneError,
    ProviderRetryableError,
)
from calsync.observability import Metric, count, logger, seconds
from calsync.privacy import content_hash, render
from calsync.providers.base import EventKey, Written
from calsync.providers.registry import provider_for
from calsync.settings import get_settings
from calsync.store import appointments, integrations, ledger

LEASE_WAITS_SECONDS = (0.2, 0.5, 1.0)
LAST_SYNCED_RESOLUTION = dt.timedelta(seconds=60)


class Outcome(StrEnum):
    WRITTEN = "written"          # the provider now holds the rendered event
    REMOVED = "removed"          # the provider no longer holds it
    UNCHANGED = "unchanged"      # nothing to write: the calendar already shows this
    SUPERSEDED = "superseded"    # a newer change was already synced for this integration
    RETRY = "retry"              # transient failure, a retry is scheduled on the ledger
    PARKED = "parked"            # the integration needs attention; replayed when it recovers
    DEAD = "dead"                # refused for good, or the retry budget is spent


@dataclass
class ChangeResult:
    stale: bool = False
    outcomes: dict[str, Outcome] = field(default_factory=dict)


_OWNER = f"{uuid.uuid4().hex[:12]}"


def _lease_owner() -> str:
    return f"{_OWNER}-{time.monotonic_ns()}"


def handle_change(appointment: AppointmentChanged, now: dt.datetime | None = None) -> ChangeResult:
    """Applies one ``Appointment Changed`` event. Raises only when the whole change must be retried
    (DynamoDB trouble, a lease that stayed busy); provider failures are recorded on the ledger."""
    count(Metric.CHANGE_RECEIVED)
    if not appointments.save_if_newer(appointment):
        count(Metric.STALE_CHANGE_DROPPED)
        logger.info("stale change dropped")
        return ChangeResult(stale=True)
    result = ChangeResult()
    for integration in targets(appointment):
        result.outcomes[integration.integration_id] = sync(integration, appointment, now)
    return result


def targets(appointment: AppointmentChanged) -> list[Integration]:
    """Integrations whose calendar should show this appointment, plus those that still hold it
    (a reassigned appointment must leave the previous clinician's calendar)."""
    tenant, appointment_id = appointment.tenant_id, appointment.appointment_id
    found = {i.integration_id: i for i in integrations.subscribed_to(tenant, appointment.practitioner_id,
                                                                      appointment.practice.id)}
    for integration_id in ledger.integrations_holding(appointments.appointment_key(tenant, appointment_id)):
        if integration_id not in found and (integration := integrations.get(integration_id)) is not None:
            found[integration_id] = integration
    return [i for i in found.values() if i.tenant_id == tenant and i.direction.pushes]


def _wants(integration: Integration, appointment: AppointmentChanged, now: dt.datetime) -> bool:
    location = appointment.location.name if appointment.location else None
    return integration.subscribes_to(appointment.practitioner_id, appointment.practice.id, location) and (
        integration.window.contains(appointment.start, now)
    )


def _acquire(integration_id: str, appointment_key: str, owner: str) -> LedgerEntry:
    lease_seconds = get_settings().lease_seconds
    for wait in (*LEASE_WAITS_SECONDS, None):
        try:
            return ledger.acquire(integration_id, appointment_key, owner, lease_seconds)
        except LeaseBusyError:
            count(Metric.LEASE_CONTENDED)
            if wait is None:
                raise
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def sync(integration: Integration, appointment: AppointmentChanged, now: dt.datetime | None = None) -> Outcome:
    """Brings one integration's calendar in line with ``appointment`` (the latest stored snapshot)."""
    now = now or dt.datetime.now(dt.UTC)
    key = EventKey(integration.integration_id, appointment.tenant_id, appointment.appointment_id)
    appointment_key = appointments.appointment_key(appointment.tenant_id, appointment.appointment_id)
    owner = _lease_owner()
    entry = _acquire(integration.integration_id, appointment_key, owner)
    wanted = _wants(integration, appointment, now)
    if entry.external_id is None and entry.state in (None, LedgerState.REMOVED) and not wanted:
        ledger.release(_settled(entry, LedgerState.REMOVED, appointment, content_hash(None)), owner)
        return Outcome.UNCHANGED
    try:
        outcome = _apply(integration, appointment, entry, key, wanted, now)
    finally:
        ledger.release(entry, owner)
    if outcome in (Outcome.WRITTEN, Outcome.REMOVED):
        _note_success(integration, now)
    return outcome


def _apply(integration: Integration, appointment: AppointmentChanged, entry: LedgerEntry, key: EventKey,
           wanted: bool, now: dt.datetime) -> Outcome:
    """Decides and performs the write; mutates ``entry`` to what must be recorded."""
    if entry.synced_order_key is not None and entry.synced_order_key > appointment.order_key:
        return Outcome.SUPERSEDED
    if not integration.accepts_pushes:
        if integration.status is IntegrationStatus.ERROR:
            _park(entry, "integration_error")
            return Outcome.PARKED
        return Outcome.UNCHANGED  # paused or disconnected: resume decides whether to backfill

    desired = render(appointment, integration.privacy) if wanted else None
    digest = content_hash(desired)
    if digest == entry.content_hash and entry.state in (LedgerState.SYNCED, LedgerState.REMOVED):
        _settled(entry, entry.state, appointment, digest)
        count(Metric.SYNC_SKIPPED_UNCHANGED)
        return Outcome.UNCHANGED

    known = Written(entry.external_id, entry.etag) if entry.external_id else None
    provider = provider_for(integration)
    try:
        if desired is None:
            if known is not None:
                provider.delete(key, known)
            entry.external_id = entry.etag = None
            _settled(entry, LedgerState.REMOVED, appointment, digest)
            count(Metric.APPOINTMENT_REMOVED)
            outcome = Outcome.REMOVED
        else:
            written = provider.upsert(key, desired, known)
            entry.external_id, entry.etag = written.external_id, written.etag
            _settled(entry, LedgerState.SYNCED, appointment, digest)
            count(Metric.APPOINTMENT_SYNCED)
            outcome = Outcome.WRITTEN
    except ProviderError as error:
        return _failed(integration, entry, error, now)
    seconds(Metric.SYNC_LAG_SECONDS, max(0.0, (dt.datetime.now(dt.UTC) - appointment.updated_at).total_seconds()))
    return outcome


def _settled(entry: LedgerEntry, state: LedgerState, appointment: AppointmentChanged, digest: str) -> LedgerEntry:
    entry.state = state
    entry.content_hash = digest
    if entry.synced_order_key is None or entry.synced_order_key < appointment.order_key:
        entry.synced_order_key = appointment.order_key
    entry.attempts, entry.next_attempt_at, entry.last_error = 0, None, None
    return entry


def _park(entry: LedgerEntry, reason: str) -> None:
    entry.state, entry.next_attempt_at, entry.last_error = LedgerState.PARKED, None, reason
    count(Metric.SYNC_PARKED)


def _failed(integration: Integration, entry: LedgerEntry, error: ProviderError, now: dt.datetime) -> Outcome:
    log_keys = {"integration_id": integration.integration_id, "provider": error.provider,
                "reason": error.reason, "status": error.status}
    count(Metric.SYNC_FAILED)
    if isinstance(error, ProviderRetryableError | ProviderConflictError):
        entry.attempts += 1
        retry_after = error.retry_after if isinstance(error, ProviderRetryableError) else None
        due = retry_policy.next_attempt(entry.attempts, now, retry_after)
        entry.last_error = error.reason
        if due is None:
            entry.state, entry.next_attempt_at = LedgerState.DEAD, None
            count(Metric.SYNC_DEAD)
            logger.error("sync dead after retries", extra=log_keys)
            return Outcome.DEAD
        entry.state, entry.next_attempt_at = LedgerState.RETRY, due
        count(Metric.SYNC_RETRY_SCHEDULED)
        logger.warning("sync failed, retry scheduled", extra={**log_keys, "attempt": entry.attempts})
        return Outcome.RETRY
    if isinstance(error, ProviderAuthError | ProviderGoneError):
        reason = status.CALENDAR_GONE if isinstance(error, ProviderGoneError) else status.REAUTH_REQUIRED
        _park(entry, reason)
        logger.warning("sync parked", extra=log_keys)
        status.change(integration, IntegrationStatus.ERROR, reason)
        integrations.record_error(integration.integration_id, error.reason)
        return Outcome.PARKED
    entry.state, entry.next_attempt_at, entry.last_error = LedgerState.DEAD, None, error.reason
    count(Metric.SYNC_DEAD)
    logger.error("sync rejected by provider", extra=log_keys)
    integrations.record_error(integration.integration_id, error.reason)
    return Outcome.DEAD


def _note_success(integration: Integration, now: dt.datetime) -> None:
    """Keeps ``last_synced_at`` current without a write per change (one per minute at most)."""
    last = integration.last_synced_at
    if integration.status is IntegrationStatus.PENDING or last is None or now - last >= LAST_SYNCED_RESOLUTION:
        integrations.mark_synced(integration.integration_id, now)
        integration.last_synced_at = now
        if integration.status is IntegrationStatus.PENDING:
            status.change(integration, IntegrationStatus.ACTIVE, None, expected=IntegrationStatus.PENDING)
