"""The engine's ports in memory (``calsync.services.ports``), with the same rules as the DynamoDB
store: a snapshot is stored only if its ordering key is not older, a ledger item's lease is exclusive
until it expires, a lease that was never released makes the item ``uncertain``. A calendar that
records every call and can be told to fail stands in for the provider.

Each store is safe under threads (the deployed engine runs the syncs of one change side by side): every
method is one atomic step under the store's lock, as each DynamoDB call is one conditional write.

    ports = MemoryPorts()
    engine = Engine(ports.sync_ports())
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from calsync.core.errors import LeaseBusyError, ProviderError
from calsync.domain.contract import AppointmentChanged
from calsync.domain.disclosure import Disclosure
from calsync.domain.event import CalendarEvent, EventKey, Written
from calsync.domain.ledger import LedgerEntry
from calsync.domain.model import Integration, IntegrationStatus
from calsync.domain.policy import PrivacyPolicy
from calsync.providers.base import CalendarProvider
from calsync.services.ports import SyncPorts


@dataclass(frozen=True)
class MemorySaved:
    holders: frozenset[str]


class MemoryAppointments:
    def __init__(self) -> None:
        self.snapshots: dict[str, AppointmentChanged] = {}
        self.holders: dict[str, set[str]] = {}
        self._lock = threading.RLock()

    def save_if_newer(self, appointment: AppointmentChanged,
                      received_at: dt.datetime | None = None) -> MemorySaved | None:
        with self._lock:
            stored = self.snapshots.get(appointment.key)
            if stored is not None and stored.order_key > appointment.order_key:
                return None
            self.snapshots[appointment.key] = appointment
            return MemorySaved(frozenset(self.holders.get(appointment.key, ())))

    def hold(self, key: str, integration_id: str) -> AppointmentChanged | None:
        with self._lock:
            if key not in self.snapshots:
                return None
            self.holders.setdefault(key, set()).add(integration_id)
            return self.snapshots[key]


@dataclass
class _Item:
    entry: LedgerEntry
    lease_owner: str | None = None
    lease_expires_at: dt.datetime | None = None


class MemoryLedger:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], _Item] = {}
        self._lock = threading.RLock()

    def acquire(self, integration_id: str, appointment_key: str, owner: str, lease_seconds: int,
                now: dt.datetime) -> LedgerEntry:
        with self._lock:
            item = self.items.setdefault((integration_id, appointment_key),
                                         _Item(LedgerEntry(integration_id, appointment_key)))
            if item.lease_owner not in (None, owner) and item.lease_expires_at is not None and (
                    item.lease_expires_at >= now):
                raise LeaseBusyError(f"ledger item busy: {integration_id}")
            abandoned = item.lease_owner is not None  # a lease that was never released: its holder died
            item.lease_owner, item.lease_expires_at = owner, now + dt.timedelta(seconds=lease_seconds)
            entry = copy.copy(item.entry)
            entry.uncertain = entry.uncertain or abandoned
            return entry

    def release(self, entry: LedgerEntry, owner: str, now: dt.datetime | None = None) -> None:
        with self._lock:
            item = self.items[(entry.integration_id, entry.appointment_key)]
            if item.lease_owner != owner:
                raise LeaseBusyError(f"lease lost before release: {entry.integration_id}")
            item.entry = copy.copy(entry)
            item.lease_owner = item.lease_expires_at = None

    def entry(self, integration_id: str, appointment_key: str) -> LedgerEntry | None:
        with self._lock:
            item = self.items.get((integration_id, appointment_key))
            return item.entry if item else None


class MemoryIntegrations:
    def __init__(self, *integrations: Integration) -> None:
        self.by_id = {i.integration_id: i for i in integrations}
        self.synced: list[tuple[str, dt.datetime]] = []
        self.errors: list[tuple[str, str]] = []
        self.rejections: Counter[str] = Counter()
        self._lock = threading.RLock()

    def subscribed_to(self, tenant_id: str, practitioner_id: str, practice_id: str) -> list[Integration]:
        with self._lock:
            return [i for i in self.by_id.values() if i.tenant_id == tenant_id and (
                i.practice_scope == practice_id if i.practice_scope is not None
                else i.practitioner_id == practitioner_id)]

    def get(self, integration_id: str) -> Integration | None:
        with self._lock:
            return self.by_id.get(integration_id)

    def mark_synced(self, integration_id: str, at: dt.datetime) -> None:
        with self._lock:
            self.synced.append((integration_id, at))
            self.rejections[integration_id] = 0

    def record_error(self, integration_id: str, error_code: str) -> None:
        with self._lock:
            self.errors.append((integration_id, error_code))

    def record_rejection(self, integration_id: str, error_code: str) -> int:
        with self._lock:
            self.rejections[integration_id] += 1
            return self.rejections[integration_id]


class MemoryHealth:
    """Records status transitions instead of announcing them."""

    def __init__(self) -> None:
        self.transitions: list[tuple[str, IntegrationStatus, str | None]] = []
        self._lock = threading.RLock()

    def _move(self, integration: Integration, status: IntegrationStatus, reason: str | None,
              expected: IntegrationStatus | None = None) -> bool:
        with self._lock:
            if expected is not None and integration.status is not expected:
                return False
            if integration.status is status and integration.status_reason == reason:
                return False
            integration.status, integration.status_reason = status, reason
            self.transitions.append((integration.integration_id, status, reason))
            return True

    def activated(self, integration: Integration) -> bool:
        return self._move(integration, IntegrationStatus.ACTIVE, None, IntegrationStatus.PENDING)

    def entered_error(self, integration: Integration, reason: str, now: dt.datetime) -> bool:
        return self._move(integration, IntegrationStatus.ERROR, reason)

    def recovered(self, integration: Integration, now: dt.datetime) -> bool:
        return self._move(integration, IntegrationStatus.ACTIVE, None, IntegrationStatus.ERROR)


@dataclass
class MemoryCalendar:
    """One calendar: what it holds by the writer's idempotent key, every call, and queued failures
    (``fail_next``), raised before the write or — ``after_write=True`` — after it (a lost response)."""

    name: str = "memory"
    events: dict[str, CalendarEvent] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[Callable[[], ProviderError], bool]] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def fail_next(self, error: Callable[[], ProviderError], *, after_write: bool = False, times: int = 1) -> None:
        with self._lock:
            self.failures.extend([(error, after_write)] * times)

    def _maybe_fail(self, after_write: bool) -> None:
        if self.failures and self.failures[0][1] == after_write:
            error, _ = self.failures.pop(0)
            raise error()

    def upsert(self, key: EventKey, event: CalendarEvent, known: Written | None) -> Written:
        with self._lock:
            self.calls.append(("upsert", key.appointment_id))
            self._maybe_fail(after_write=False)
            self.events[key.digest] = event
            self._maybe_fail(after_write=True)
            return Written(key.digest, str(len(self.calls)))

    def delete(self, key: EventKey, known: Written | None) -> None:
        with self._lock:
            self.calls.append(("delete", key.appointment_id))
            self._maybe_fail(after_write=False)
            self.events.pop(key.digest, None)
            self._maybe_fail(after_write=True)


class MemoryWriters:
    def __init__(self) -> None:
        self.calendars: dict[str, MemoryCalendar] = {}
        self._lock = threading.Lock()

    def provider_for(self, integration: Integration) -> CalendarProvider:
        with self._lock:
            return self.calendars.setdefault(integration.integration_id, MemoryCalendar(integration.integration_id))


class MemoryDisclosures:
    """The accounting of disclosures: appended, in order; ``fail_next`` makes the next record fail."""

    def __init__(self) -> None:
        self.records: list[Disclosure] = []
        self.failures: list[Exception] = []

    def record(self, disclosure: Disclosure) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.records.append(disclosure)


class MemoryPolicies:
    def __init__(self) -> None:
        self.by_tenant: dict[str, PrivacyPolicy] = {}

    def for_tenant(self, tenant_id: str) -> PrivacyPolicy | None:
        return self.by_tenant.get(tenant_id)


@dataclass
class MemoryPorts:
    appointments: MemoryAppointments = field(default_factory=MemoryAppointments)
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    integrations: MemoryIntegrations = field(default_factory=MemoryIntegrations)
    writers: MemoryWriters = field(default_factory=MemoryWriters)
    health: MemoryHealth = field(default_factory=MemoryHealth)
    audit: MemoryDisclosures = field(default_factory=MemoryDisclosures)
    policies: MemoryPolicies = field(default_factory=MemoryPolicies)
    lease_seconds: int = 60

    def sync_ports(self) -> SyncPorts:
        return SyncPorts(appointments=self.appointments, ledger=self.ledger, integrations=self.integrations,
                         writers=self.writers, health=self.health, audit=self.audit,
                         lease_seconds=self.lease_seconds, policies=self.policies)

    def calendar(self, integration_id: str) -> MemoryCalendar:
        with self.writers._lock:
            return self.writers.calendars.setdefault(integration_id, MemoryCalendar(integration_id))
