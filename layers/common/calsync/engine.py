"""The sync engine: one appointment change, end to end.

For a change that is not stale: store the snapshot (conditional on its ordering key), find the
integrations that should show it or still hold it, and for each one, under a short ledger lease,
render the snapshot through the integration's privacy settings, skip when the rendered content is
what the calendar already holds, else write it and record the outcome. Because the ledger records
what each calendar holds and the Appointments table what it should hold, nothing is lost: a transient
failure leaves a due retry on the ledger, an auth failure parks the work until the clinician
reconnects, and the sweeper can always find and repair drift.

A sync that dies after the provider may have written (a lost response, a crash before the ledger
write) leaves the entry *uncertain*: the next sync neither skips it as unchanged nor assumes there is
nothing to delete, and the provider's idempotent keys make the repeat safe (a create finds the first
one, a delete by key removes it). That is what makes "exactly once" hold across crashes.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from calsync import recovery, retry_policy, status
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

LEASE_WAITS_SECONDS: tuple[float, ...] = (0.2, 0.5, 1.0)
LAST_SYNCED_RESOLUTION = dt.timedelta(seconds=60)
PERSISTENT_REJECTIONS = 3
"""Writes refused for good in a row (no success between) before the integration goes to ``error``."""
PERSISTENT_REJECTION = "persistent_rejection"


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
    now = now or dt.datetime.now(dt.UTC)
    count(Metric.CHANGE_RECEIVED)
    if not appointments.save_if_newer(appointment, received_at=now):
        count(Metric.STALE_CHANGE_DROPPED)
        logger.info("stale change dropped")
        return ChangeResult(stale=True)
    result = ChangeResult()
    for integration in targets(appointment):
        result.outcomes[integration.integration_id] = sync(integration, appointment, now)
    return result


class IntegrationSource(Protocol):
    """Where :func:`targets` reads integrations: the store, or a sweeper's per-run cache of it."""

    def subscribed_to(self, tenant_id: str, practitioner_id: str, practice_id: str) -> list[Integration]: ...

    def get(self, integration_id: str) -> Integration | None: ...


def targets(appointment: AppointmentChanged, source: IntegrationSource | None = None) -> list[Integration]:
    """Integrations whose calendar should show this appointment, plus those that still hold it
    (a reassigned appointment must leave the previous clinician's calendar)."""
    store: IntegrationSource = source or integrations
    tenant, appointment_id = appointment.tenant_id, appointment.appointment_id
    found = {i.integration_id: i for i in store.subscribed_to(tenant, appointment.practitioner_id,
                                                               appointment.practice.id)}
    for integration_id in ledger.integrations_holding(appointments.appointment_key(tenant, appointment_id)):
        if integration_id not in found and (integration := store.get(integration_id)) is not None:
            found[integration_id] = integration
    return [i for i in found.values() if i.tenant_id == tenant and i.direction.pushes]


def _wants(integration: Integration, appointment: AppointmentChanged, now: dt.datetime) -> bool:
    location = appointment.location.name if appointment.location else None
    return integration.subscribes_to(appointment.practitioner_id, appointment.practice.id, location) and (
        integration.window.contains(appointment.start, now)
    )


def _acquire(integration_id: str, appointment_key: str, owner: str, now: dt.datetime,
             wait_for_lease: bool) -> LedgerEntry:
    lease_seconds = get_settings().lease_seconds
    for wait in (*(LEASE_WAITS_SECONDS if wait_for_lease else ()), None):
        try:
            return ledger.acquire(integration_id, appointment_key, owner, lease_seconds, now)
        except LeaseBusyError:
            count(Metric.LEASE_CONTENDED)
            if wait is None:
                raise
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def sync(integration: Integration, appointment: AppointmentChanged, now: dt.datetime | None = None, *,
         wait_for_lease: bool = True, probe: bool = False) -> Outcome:
    """Brings one integration's calendar in line with ``appointment`` (the latest stored snapshot).

    ``wait_for_lease=False`` (the sweeper) gives up at once on an item another invocation is working
    on (:class:`LeaseBusyError`). ``probe=True`` writes even though the integration is in ``error``: the
    sweeper's recovery probe, finding out whether the cause has cleared.
    """
    now = now or dt.datetime.now(dt.UTC)
    key = EventKey(integration.integration_id, appointment.tenant_id, appointment.appointment_id)
    appointment_key = appointments.appointment_key(appointment.tenant_id, appointment.appointment_id)
    owner = _lease_owner()
    entry = _acquire(integration.integration_id, appointment_key, owner, now, wait_for_lease)
    wanted = _wants(integration, appointment, now)
    if _never_written(entry) and not wanted:
        ledger.release(_settled(entry, LedgerState.REMOVED, appointment, content_hash(None)), owner, now)
        return Outcome.UNCHANGED
    try:
        outcome = _apply(integration, appointment, entry, key, wanted, now, probe)
    except Exception:
        entry.uncertain = True  # it failed in a way nobody expected, perhaps after the provider wrote
        ledger.release(entry, owner, now)
        raise
    ledger.release(entry, owner, now)  # a crash (BaseException, a killed process) never gets here
    if outcome in (Outcome.WRITTEN, Outcome.REMOVED):
        _note_success(integration, now)
    return outcome


def _never_written(entry: LedgerEntry) -> bool:
    """True when the calendar certainly holds nothing for this item: nothing was recorded, no attempt
    failed (a failed attempt may have written before its response was lost), none was cut off."""
    return entry.external_id is None and entry.state in (None, LedgerState.REMOVED) and not entry.uncertain


def _in_step(entry: LedgerEntry, digest: str) -> bool:
    """True when the calendar certainly holds the content whose hash is ``digest``: nothing to write."""
    return (digest == entry.content_hash and entry.state in (LedgerState.SYNCED, LedgerState.REMOVED)
            and not entry.uncertain)


def drift(integration: Integration, appointment: AppointmentChanged, entry: LedgerEntry | None,
          now: dt.datetime) -> str | None:
    """Why this integration's calendar is behind ``appointment`` (the latest snapshot), or None when it
    is in step or another path owns the item. The gap sweep's question; the same rules as :func:`sync`.

    Items waiting for a retry, parked or dead are the due-retry and replay sweeps' business; an item
    under a live lease is being worked on; a paused or disconnected integration takes no pushes.
    """
    if entry is not None and (entry.leased or entry.state in (LedgerState.RETRY, LedgerState.PARKED,
                                                              LedgerState.DEAD)):
        return None
    if not integration.direction.pushes or integration.status in (IntegrationStatus.PAUSED,
                                                                  IntegrationStatus.DISCONNECTED):
        return None
    entry = entry or LedgerEntry(integration.integration_id,
                                 appointments.appointment_key(appointment.tenant_id, appointment.appointment_id))
    if entry.uncertain:
        return "interrupted"
    if entry.synced_order_key is not None and entry.synced_order_key > appointment.order_key:
        return None  # the ledger is ahead of this snapshot's reader: nothing older may be written
    desired = render(appointment, integration.privacy) if _wants(integration, appointment, now) else None
    if _never_written(entry) and desired is None:
        return None
    if _in_step(entry, content_hash(desired)):
        return None
    return "content" if entry.state is not None else "never_synced"


def retire(integration_id: str, appointment_key: str, reason: str, now: dt.datetime) -> bool:
    """Gives up on a ledger item that can no longer be synced (its integration or its snapshot is gone):
    recorded as dead with ``reason``, so it is no longer due. False if another invocation holds it."""
    owner = _lease_owner()
    try:
        entry = ledger.acquire(integration_id, appointment_key, owner, get_settings().lease_seconds, now)
    except LeaseBusyError:
        return False
    entry.state, entry.next_attempt_at, entry.last_error = LedgerState.DEAD, None, reason
    ledger.release(entry, owner, now)
    count(Metric.SYNC_DEAD)
    logger.error("sync dead: nothing left to sync", extra={"integration_id": integration_id, "reason": reason})
    return True


def _apply(integration: Integration, appointment: AppointmentChanged, entry: LedgerEntry, key: EventKey,
           wanted: bool, now: dt.datetime, probe: bool) -> Outcome:
    """Decides and performs the write; mutates ``entry`` to what must be recorded."""
    if entry.synced_order_key is not None and entry.synced_order_key > appointment.order_key:
        return Outcome.SUPERSEDED
    if not integration.accepts_pushes and not probe:
        if integration.status is IntegrationStatus.ERROR:
            _park(entry, "integration_error")
            return Outcome.PARKED
        if entry.state is LedgerState.RETRY:  # a retry falls due while paused: resume replays it
            _park(entry, integration.status.value)
            return Outcome.PARKED
        return Outcome.UNCHANGED  # paused or disconnected: resume decides whether to backfill

    desired = render(appointment, integration.privacy) if wanted else None
    digest = content_hash(desired)
    if _in_step(entry, digest):
        assert entry.state is not None  # in step means synced or removed
        _settled(entry, entry.state, appointment, digest)
        count(Metric.SYNC_SKIPPED_UNCHANGED)
        return Outcome.UNCHANGED

    known = Written(entry.external_id, entry.etag) if entry.external_id else None
    provider = provider_for(integration)
    try:
        if desired is None:
            if known is not None or not _never_written(entry):
                provider.delete(key, known)  # without ``known``: by the key's deterministic identity
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
    entry.uncertain = False
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
        integrations.record_error(integration.integration_id, error.reason)
        recovery.entered_error(integration, reason, now)
        return Outcome.PARKED
    entry.state, entry.next_attempt_at, entry.last_error = LedgerState.DEAD, None, error.reason
    count(Metric.SYNC_DEAD)
    logger.error("sync rejected by provider", extra=log_keys)
    if integrations.record_rejection(integration.integration_id, error.reason) >= PERSISTENT_REJECTIONS:
        recovery.entered_error(integration, PERSISTENT_REJECTION, now)
    return Outcome.DEAD


def _note_success(integration: Integration, now: dt.datetime) -> None:
    """Keeps ``last_synced_at`` current without a write per change (one per minute at most, and at
    once after an error so ``last_error`` is cleared); a write that succeeds while the integration is in
    ``error`` (a recovery probe) means the cause has cleared."""
    last = integration.last_synced_at
    if (integration.status in (IntegrationStatus.PENDING, IntegrationStatus.ERROR) or last is None
            or integration.last_error is not None or now - last >= LAST_SYNCED_RESOLUTION):
        integrations.mark_synced(integration.integration_id, now)
        integration.last_synced_at, integration.last_error = now, None
        if integration.status is IntegrationStatus.PENDING:
            status.change(integration, IntegrationStatus.ACTIVE, None, expected=IntegrationStatus.PENDING)
        elif integration.status is IntegrationStatus.ERROR:
            recovery.recovered(integration, now)
