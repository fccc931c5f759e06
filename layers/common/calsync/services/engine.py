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

The decisions are ``calsync.domain.rules``; this module does the effects (lease, provider call,
ledger record, status transitions) through :class:`~calsync.services.ports.SyncPorts`, so tests can
run it over in-memory stores. :func:`default` is the deployed engine (DynamoDB, real providers).
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache, partial

from calsync.core import snapshot
from calsync.core.errors import LeaseBusyError, ProviderError
from calsync.core.observability import Metric, count, count_by, logger, seconds_by
from calsync.core.settings import get_settings
from calsync.domain import retry_policy, rules
from calsync.domain.contract import AppointmentChanged
from calsync.domain.disclosure import disclosure
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.domain.ledger import LedgerEntry, LedgerState
from calsync.domain.model import Integration, IntegrationStatus
from calsync.domain.privacy import content_hash
from calsync.domain.rules import Outcome
from calsync.services import fanout
from calsync.services.ports import IntegrationSource, SyncPorts

__all__ = ["ChangeResult", "Engine", "Outcome", "default", "handle_change", "retire", "sync", "targets"]

LEASE_WAITS_SECONDS: tuple[float, ...] = (0.2, 0.5, 1.0)
LAST_SYNCED_RESOLUTION = dt.timedelta(seconds=60)


@dataclass
class ChangeResult:
    stale: bool = False
    outcomes: dict[str, Outcome] = field(default_factory=dict)


_OWNER = f"{uuid.uuid4().hex[:12]}"
_leases = itertools.count(1)


def _lease_owner() -> str:
    """Unique per sync: the process's id and a counter (threads of one process never share a value)."""
    return f"{_OWNER}-{next(_leases)}"


@snapshot.after_restore
def _new_owner() -> None:
    """Every environment resumed from one SnapStart snapshot would otherwise share the process id and the
    counter, and two of them could each take "its" lease on the same ledger item."""
    global _OWNER
    _OWNER = f"{uuid.uuid4().hex[:12]}"


class Engine:
    """Applies changes and syncs integrations over the given ports."""

    def __init__(self, ports: SyncPorts) -> None:
        self.ports = ports

    def handle_change(self, appointment: AppointmentChanged, now: dt.datetime | None = None) -> ChangeResult:
        """Applies one ``Appointment Changed`` event. Raises only when the whole change must be retried
        (DynamoDB trouble, a lease that stayed busy); provider failures are recorded on the ledger."""
        now = now or dt.datetime.now(dt.UTC)
        count(Metric.CHANGE_RECEIVED)
        saved = self.ports.appointments.save_if_newer(appointment, received_at=now)
        if saved is None:
            count(Metric.STALE_CHANGE_DROPPED)
            logger.info("stale change dropped")
            return ChangeResult(stale=True)
        result = ChangeResult()
        targets = self.targets(appointment, saved.holders)
        done = self.ports.fan_out.run([partial(self.sync, integration, appointment, now) for integration in targets])
        for integration, outcome in zip(targets, done, strict=True):
            if not isinstance(outcome, BaseException):
                result.outcomes[integration.integration_id] = outcome
        failure = fanout.first_failure(done)
        if failure is not None:
            raise failure  # the others ran to their end; this change is redelivered and finds them in step
        return result

    def targets(self, appointment: AppointmentChanged, holders: Iterable[str] = (),
                source: IntegrationSource | None = None) -> list[Integration]:
        """Integrations whose calendar should show this appointment, plus those that hold (or held) an
        event for it (``holders``, stored with the appointment): a reassigned appointment must leave the
        previous clinician's calendar."""
        store: IntegrationSource = source or self.ports.integrations
        tenant = appointment.tenant_id
        found = {i.integration_id: i for i in store.subscribed_to(tenant, appointment.practitioner_id,
                                                                   appointment.practice.id)}
        for integration_id in holders:
            if integration_id not in found and (integration := store.get(integration_id)) is not None:
                found[integration_id] = integration
        return [i for i in found.values() if i.tenant_id == tenant and i.direction.pushes]

    def sync(self, integration: Integration, appointment: AppointmentChanged, now: dt.datetime | None = None, *,
             wait_for_lease: bool = True, probe: bool = False) -> Outcome:
        """Brings one integration's calendar in line with ``appointment`` (the latest stored snapshot).

        ``wait_for_lease=False`` (the sweeper) gives up at once on an item another invocation is working
        on (:class:`LeaseBusyError`). ``probe=True`` writes even though the integration is in ``error``:
        the sweeper's recovery probe, finding out whether the cause has cleared.
        """
        now = now or dt.datetime.now(dt.UTC)
        owner = _lease_owner()
        entry = self._acquire(integration.integration_id, appointment.key, owner, now, wait_for_lease)
        wanted = rules.wants(integration, appointment, now)
        if rules.never_written(entry) and wanted:
            # about to write this calendar for the first time: register it as a holder and act on the
            # latest snapshot, in one step, so a newer change either is read here or finds this calendar
            latest = self.ports.appointments.hold(appointment.key, integration.integration_id)
            if latest is not None and latest.order_key > appointment.order_key:
                appointment, wanted = latest, rules.wants(integration, latest, now)
        if rules.never_written(entry) and not wanted:
            self.ports.ledger.release(rules.settle(entry, LedgerState.REMOVED, appointment, content_hash(None)),
                                      owner, now)
            return Outcome.UNCHANGED
        try:
            outcome = self._apply(integration, appointment, entry, wanted, now, probe)
        except Exception:
            entry.uncertain = True  # it failed in a way nobody expected, perhaps after the provider wrote
            self.ports.ledger.release(entry, owner, now)
            raise
        self.ports.ledger.release(entry, owner, now)  # a crash (BaseException, a killed process) never gets here
        if outcome in (Outcome.WRITTEN, Outcome.REMOVED):
            self._note_success(integration, now)
        return outcome

    def retire(self, integration_id: str, appointment_key: str, reason: str, now: dt.datetime) -> bool:
        """Gives up on a ledger item that can no longer be synced (its integration or its snapshot is
        gone): recorded as dead with ``reason``, so it is no longer due. False if another invocation
        holds it."""
        owner = _lease_owner()
        try:
            entry = self.ports.ledger.acquire(integration_id, appointment_key, owner, self.ports.lease_seconds, now)
        except LeaseBusyError:
            return False
        rules.kill(entry, reason)
        self.ports.ledger.release(entry, owner, now)
        count(Metric.SYNC_DEAD)
        logger.error("sync dead: nothing left to sync", extra={"integration_id": integration_id, "reason": reason})
        return True

    # -- effects -------------------------------------------------------------------------------------------

    def _acquire(self, integration_id: str, appointment_key: str, owner: str, now: dt.datetime,
                 wait_for_lease: bool) -> LedgerEntry:
        for wait in (*(LEASE_WAITS_SECONDS if wait_for_lease else ()), None):
            try:
                return self.ports.ledger.acquire(integration_id, appointment_key, owner, self.ports.lease_seconds,
                                                 now)
            except LeaseBusyError:
                count(Metric.LEASE_CONTENDED)
                if wait is None:
                    raise
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _apply(self, integration: Integration, appointment: AppointmentChanged, entry: LedgerEntry,
               wanted: bool, now: dt.datetime, probe: bool) -> Outcome:
        """Decides and performs the write; mutates ``entry`` to what must be recorded."""
        if rules.superseded(entry, appointment):
            return Outcome.SUPERSEDED
        held = rules.held_back(integration, entry, probe)
        if held is not None:
            if held is Outcome.PARKED:
                count(Metric.SYNC_PARKED)
            return held

        policy = self.ports.policies.for_tenant(appointment.tenant_id)
        desired = rules.desired(integration, appointment, now, policy) if wanted else None
        digest = content_hash(desired)
        if rules.in_step(entry, digest):
            assert entry.state is not None  # in step means synced or removed
            rules.settle(entry, entry.state, appointment, digest)
            count(Metric.SYNC_SKIPPED_UNCHANGED)
            return Outcome.UNCHANGED

        key = EventKey(integration.integration_id, appointment.tenant_id, appointment.appointment_id)
        known = Written(entry.external_id, entry.etag) if entry.external_id else None
        try:
            provider = self.ports.writers.provider_for(integration)
            if desired is None:
                if known is not None or not rules.never_written(entry):
                    provider.delete(key, known)  # without ``known``: by the key's deterministic identity
                entry.external_id = entry.etag = None
                rules.settle(entry, LedgerState.REMOVED, appointment, digest)
                count(Metric.APPOINTMENT_REMOVED)
                outcome = Outcome.REMOVED
            else:
                written = provider.upsert(key, desired, known)
                entry.external_id, entry.etag = written.external_id, written.etag
                rules.settle(entry, LedgerState.SYNCED, appointment, digest)
                count(Metric.APPOINTMENT_SYNCED)
                outcome = Outcome.WRITTEN
        except ProviderError as error:
            failure = self._failed(integration, entry, error, now)
            if desired is not None:  # the content was sent, and may have been received
                self._disclosed(integration, appointment, desired, failure, now)
            return failure
        if desired is not None:
            self._disclosed(integration, appointment, desired, outcome, now)
        seconds_by(Metric.SYNC_LAG_SECONDS, "provider", integration.provider.value,
                   max(0.0, (dt.datetime.now(dt.UTC) - appointment.updated_at).total_seconds()))
        return outcome

    def _disclosed(self, integration: Integration, appointment: AppointmentChanged, event: CalendarEvent,
                   outcome: Outcome, now: dt.datetime) -> None:
        """Accounts for a write of rendered content to a calendar outside calsync (HIPAA accounting of
        disclosures). If the record cannot be kept this raises, the item stays uncertain and the change
        is retried: no write goes unrecorded."""
        self.ports.audit.record(disclosure(integration, appointment, event, outcome.value, now))

    def _failed(self, integration: Integration, entry: LedgerEntry, error: ProviderError, now: dt.datetime) -> Outcome:
        log_keys = {"integration_id": integration.integration_id, "provider": error.provider,
                    "reason": error.reason, "status": error.status,
                    "appointment_id": entry.appointment_key.partition("#")[2]}
        count(Metric.SYNC_FAILED)
        failure = rules.failed(entry, error, now)
        match failure.outcome:
            case Outcome.RETRY:
                count_by(Metric.SYNC_RETRY_SCHEDULED, "reason", retry_policy.retry_reason(error))
                logger.warning("sync failed, retry scheduled", extra={**log_keys, "attempt": entry.attempts})
            case Outcome.PARKED:
                count(Metric.SYNC_PARKED)
                logger.warning("sync parked", extra=log_keys)
            case _:
                count(Metric.SYNC_DEAD)
                logger.error("sync rejected by provider" if failure.rejected else "sync dead after retries",
                             extra=log_keys)
        if failure.integration_error is not None:
            self.ports.integrations.record_error(integration.integration_id, error.reason)
            self.ports.health.entered_error(integration, failure.integration_error, now)
        if failure.rejected and (self.ports.integrations.record_rejection(integration.integration_id, error.reason)
                                 >= rules.PERSISTENT_REJECTIONS):
            self.ports.health.entered_error(integration, rules.PERSISTENT_REJECTION, now)
        return failure.outcome

    def _note_success(self, integration: Integration, now: dt.datetime) -> None:
        """Keeps ``last_synced_at`` current without a write per change (one per minute at most, and at
        once after an error so ``last_error`` is cleared); a write that succeeds while the integration is
        in ``error`` (a recovery probe) means the cause has cleared."""
        last = integration.last_synced_at
        if (integration.status in (IntegrationStatus.PENDING, IntegrationStatus.ERROR) or last is None
                or integration.last_error is not None or now - last >= LAST_SYNCED_RESOLUTION):
            self.ports.integrations.mark_synced(integration.integration_id, now)
            integration.last_synced_at, integration.last_error = now, None
            if integration.status is IntegrationStatus.PENDING:
                self.ports.health.activated(integration)
            elif integration.status is IntegrationStatus.ERROR:
                self.ports.health.recovered(integration, now)


# -- the deployed engine ---------------------------------------------------------------------------------


FAN_OUT = fanout.ThreadPool()
"""The deployed engine's pool: the syncs of one change run side by side (``calsync.services.fanout``)."""


@lru_cache(maxsize=1)
def default() -> Engine:
    """The engine over DynamoDB, the real providers and announced status changes."""
    from calsync.services import policies, recovery, writers
    from calsync.store import appointments, disclosures, integrations, ledger

    return Engine(SyncPorts(appointments=appointments, ledger=ledger, integrations=integrations, writers=writers,
                            health=recovery, audit=disclosures, lease_seconds=get_settings().lease_seconds,
                            policies=policies, fan_out=FAN_OUT))


def handle_change(appointment: AppointmentChanged, now: dt.datetime | None = None) -> ChangeResult:
    return default().handle_change(appointment, now)


def targets(appointment: AppointmentChanged, holders: Iterable[str] = (),
            source: IntegrationSource | None = None) -> list[Integration]:
    return default().targets(appointment, holders, source)


def sync(integration: Integration, appointment: AppointmentChanged, now: dt.datetime | None = None, *,
         wait_for_lease: bool = True, probe: bool = False) -> Outcome:
    return default().sync(integration, appointment, now, wait_for_lease=wait_for_lease, probe=probe)


def retire(integration_id: str, appointment_key: str, reason: str, now: dt.datetime) -> bool:
    return default().retire(integration_id, appointment_key, reason, now)
