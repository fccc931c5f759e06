"""The sync rules: what one integration's calendar should hold for one appointment, whether the
ledger says it already does, and what a failure means. Pure decisions, no I/O: the engine
(``calsync.services.engine``) takes the lease, asks these, calls the provider and records the outcome;
the gap sweep asks :func:`drift` the same questions without writing anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from calsync.core.errors import (
    REAUTH_REQUIRED,
    ProviderAuthError,
    ProviderConflictError,
    ProviderError,
    ProviderGoneError,
    ProviderRetryableError,
)
from calsync.domain import retry_policy
from calsync.domain.contract import AppointmentChanged, appointment_key
from calsync.domain.event import CalendarEvent
from calsync.domain.ledger import LedgerEntry, LedgerState
from calsync.domain.model import Integration, IntegrationStatus
from calsync.domain.policy import DestinationKind, PrivacyPolicy, destination_kind
from calsync.domain.privacy import content_hash, render

CALENDAR_GONE = "calendar_gone"
"""Status reason: the calendar calsync writes to no longer exists."""
PERSISTENT_REJECTION = "persistent_rejection"
"""Status reason: the provider refused :data:`PERSISTENT_REJECTIONS` writes in a row."""
PERSISTENT_REJECTIONS = 3
"""Writes refused for good in a row (no success between) before the integration goes to ``error``."""


class Outcome(StrEnum):
    WRITTEN = "written"          # the provider now holds the rendered event
    REMOVED = "removed"          # the provider no longer holds it
    UNCHANGED = "unchanged"      # nothing to write: the calendar already shows this
    SUPERSEDED = "superseded"    # a newer change was already synced for this integration
    RETRY = "retry"              # transient failure, a retry is scheduled on the ledger
    PARKED = "parked"            # the integration needs attention; replayed when it recovers
    DEAD = "dead"                # refused for good, or the retry budget is spent


def wants(integration: Integration, appointment: AppointmentChanged, now: dt.datetime) -> bool:
    """Whether ``appointment`` belongs on this integration's calendar now (filters and window)."""
    location = appointment.location.name if appointment.location else None
    return integration.subscribes_to(appointment.practitioner_id, appointment.practice.id, location) and (
        integration.window.contains(appointment.start, now)
    )


def desired(integration: Integration, appointment: AppointmentChanged, now: dt.datetime,
            policy: PrivacyPolicy | None = None) -> CalendarEvent | None:
    """What the calendar should show for ``appointment``: its rendering under the practice's ``policy`` and
    the clinician's settings, or None (nothing at all)."""
    if not wants(integration, appointment, now):
        return None
    destination = destination_kind(integration, policy) if policy is not None else DestinationKind.CONSUMER
    return render(appointment, integration.privacy, policy=policy, destination=destination, now=now)


def never_written(entry: LedgerEntry) -> bool:
    """True when the calendar certainly holds nothing for this item: nothing was recorded, no attempt
    failed (a failed attempt may have written before its response was lost), none was cut off."""
    return entry.external_id is None and entry.state in (None, LedgerState.REMOVED) and not entry.uncertain


def in_step(entry: LedgerEntry, digest: str) -> bool:
    """True when the calendar certainly holds the content whose hash is ``digest``: nothing to write."""
    return (digest == entry.content_hash and entry.state in (LedgerState.SYNCED, LedgerState.REMOVED)
            and not entry.uncertain)


def superseded(entry: LedgerEntry, appointment: AppointmentChanged) -> bool:
    """True when the ledger already records a newer change than ``appointment``: nothing older may be
    written over it."""
    return entry.synced_order_key is not None and entry.synced_order_key > appointment.order_key


def settle(entry: LedgerEntry, state: LedgerState, appointment: AppointmentChanged, digest: str) -> LedgerEntry:
    """Records on ``entry`` that the calendar now certainly holds ``digest`` for ``appointment``."""
    entry.state = state
    entry.content_hash = digest
    entry.uncertain = False
    if entry.synced_order_key is None or entry.synced_order_key < appointment.order_key:
        entry.synced_order_key = appointment.order_key
    entry.attempts, entry.next_attempt_at, entry.last_error = 0, None, None
    return entry


def park(entry: LedgerEntry, reason: str) -> None:
    """The work waits for the integration (re-auth, resume); replayed when it recovers."""
    entry.state, entry.next_attempt_at, entry.last_error = LedgerState.PARKED, None, reason


def kill(entry: LedgerEntry, reason: str) -> None:
    """Given up for good: nothing more happens until an operator or a recovery replays it."""
    entry.state, entry.next_attempt_at, entry.last_error = LedgerState.DEAD, None, reason


def held_back(integration: Integration, entry: LedgerEntry, probe: bool) -> Outcome | None:
    """What happens to a sync for an integration that takes no pushes now (paused, disconnected, in
    ``error``), or None when it takes them (or this is a recovery probe, which writes anyway)."""
    if integration.accepts_pushes or probe:
        return None
    if integration.status is IntegrationStatus.ERROR:
        park(entry, "integration_error")
        return Outcome.PARKED
    if entry.state is LedgerState.RETRY:  # a retry falls due while paused: resume replays it
        park(entry, integration.status.value)
        return Outcome.PARKED
    return Outcome.UNCHANGED  # paused or disconnected: resume decides whether to backfill


def drift(integration: Integration, appointment: AppointmentChanged, entry: LedgerEntry | None,
          now: dt.datetime, policy: PrivacyPolicy | None = None) -> str | None:
    """Why this integration's calendar is behind ``appointment`` (the latest snapshot), or None when it
    is in step or another path owns the item. The gap sweep's question; the same rules as a sync.

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
                                 appointment_key(appointment.tenant_id, appointment.appointment_id))
    if entry.uncertain:
        return "interrupted"
    if superseded(entry, appointment):
        return None  # the ledger is ahead of this snapshot's reader
    shown = desired(integration, appointment, now, policy)
    if never_written(entry) and shown is None:
        return None
    if in_step(entry, content_hash(shown)):
        return None
    return "content" if entry.state is not None else "never_synced"


# -- failures -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """What a provider error means for one ledger item (already recorded on the entry by
    :func:`failed`) and for its integration."""

    outcome: Outcome
    integration_error: str | None = None
    """A status reason when the integration must go to ``error`` (its credentials or calendar are gone)."""
    rejected: bool = False
    """The provider refused this write for good: counts towards :data:`PERSISTENT_REJECTIONS`."""


def failed(entry: LedgerEntry, error: ProviderError, now: dt.datetime) -> Failure:
    """Records ``error`` on ``entry`` and says what it means: a transient failure or lost race waits for
    a retry (dead once the retry policy gives up), lost credentials or a vanished calendar park the work
    and put the integration in ``error``, anything else is refused for good."""
    if isinstance(error, ProviderRetryableError | ProviderConflictError):
        entry.attempts += 1
        retry_after = error.retry_after if isinstance(error, ProviderRetryableError) else None
        due = retry_policy.next_attempt(entry.attempts, now, retry_after)
        if due is None:
            kill(entry, error.reason)
            return Failure(Outcome.DEAD)
        entry.state, entry.next_attempt_at, entry.last_error = LedgerState.RETRY, due, error.reason
        return Failure(Outcome.RETRY)
    if isinstance(error, ProviderAuthError | ProviderGoneError):
        reason = CALENDAR_GONE if isinstance(error, ProviderGoneError) else REAUTH_REQUIRED
        park(entry, reason)
        return Failure(Outcome.PARKED, integration_error=reason)
    kill(entry, error.reason)
    return Failure(Outcome.DEAD, rejected=True)
