"""What the sync engine needs from the rest of calsync, as small protocols.

The deployed engine gets the DynamoDB store modules (``calsync.store.*``, the disclosure audit included),
the provider registry (``calsync.services.writers``) and the status transitions
(``calsync.services.recovery``) — modules satisfy these protocols as they are. Tests give it in-memory
stand-ins instead, so the engine's decisions can be exercised without DynamoDB or a calendar server.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from calsync.domain.contract import AppointmentChanged
from calsync.domain.disclosure import Disclosure
from calsync.domain.ledger import LedgerEntry
from calsync.domain.model import Integration
from calsync.domain.policy import PrivacyPolicy
from calsync.providers.base import CalendarProvider
from calsync.services.fanout import IN_LINE, FanOut


class Stored(Protocol):
    @property
    def holders(self) -> frozenset[str]: ...


class AppointmentStore(Protocol):
    def save_if_newer(self, appointment: AppointmentChanged, received_at: dt.datetime | None = None) -> Stored | None:
        """Stores the snapshot unless a newer one is stored (None for a stale change); returns the
        integrations registered as holding an event for the appointment, read in the same write."""
        ...

    def hold(self, key: str, integration_id: str) -> AppointmentChanged | None:
        """Registers the integration as a holder and returns the latest snapshot, atomically."""
        ...


class LedgerStore(Protocol):
    def acquire(self, integration_id: str, appointment_key: str, owner: str, lease_seconds: int,
                now: dt.datetime) -> LedgerEntry:
        """Takes the item's lease (creating the item) and returns it; raises ``LeaseBusyError``."""
        ...

    def release(self, entry: LedgerEntry, owner: str, now: dt.datetime | None = None) -> None:
        """Writes ``entry`` back and gives up the lease (only if ``owner`` still holds it)."""
        ...


class IntegrationSource(Protocol):
    """Where the engine reads integrations: the store, or a sweeper run's cache of it."""

    def subscribed_to(self, tenant_id: str, practitioner_id: str, practice_id: str) -> list[Integration]: ...

    def get(self, integration_id: str) -> Integration | None: ...


class IntegrationStore(IntegrationSource, Protocol):
    def mark_synced(self, integration_id: str, at: dt.datetime) -> None: ...

    def record_error(self, integration_id: str, error_code: str) -> None: ...

    def record_rejection(self, integration_id: str, error_code: str) -> int:
        """Counts a write refused for good; returns the count since the last success."""
        ...


class Writers(Protocol):
    def provider_for(self, integration: Integration) -> CalendarProvider:
        """The (warm) writer of this integration's calendar."""
        ...


class IntegrationHealth(Protocol):
    """Status transitions a sync sets off (announced on the bus by the deployed implementation)."""

    def activated(self, integration: Integration) -> bool:
        """The first write of a ``pending`` integration succeeded: it is ``active``."""
        ...

    def entered_error(self, integration: Integration, reason: str, now: dt.datetime) -> bool:
        """Its credentials or calendar are gone, or it refuses writes: ``error``, probed later."""
        ...

    def recovered(self, integration: Integration, now: dt.datetime) -> bool:
        """A write succeeded while in ``error``: ``active`` again, parked work replayed."""
        ...


class DisclosureLog(Protocol):
    """The accounting of disclosures: append-only."""

    def record(self, disclosure: Disclosure) -> None:
        """Appends one record; raises when it could not be kept (the change is then retried, so no write
        to a calendar goes unrecorded)."""
        ...


class PolicySource(Protocol):
    def for_tenant(self, tenant_id: str) -> PrivacyPolicy | None:
        """The practice's privacy policy (None: it has none)."""
        ...


@dataclass(frozen=True)
class SyncPorts:
    appointments: AppointmentStore
    ledger: LedgerStore
    integrations: IntegrationStore
    writers: Writers
    health: IntegrationHealth
    audit: DisclosureLog
    lease_seconds: int
    policies: PolicySource
    fan_out: FanOut = IN_LINE
    """How the syncs of one change run: side by side in the deployed engine (``fanout.ThreadPool``),
    one after another unless told otherwise."""
