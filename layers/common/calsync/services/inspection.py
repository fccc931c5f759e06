"""What an operator looks at: the integrations and their status, and the ledger of one integration or one
appointment — what each calendar should hold next to what the ledger says it holds, and the verdict.

Identifiers, states, content hashes and field names only: an operator sees *that* a calendar is behind and
*which* fields it shows, never a patient's details.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from calsync.core.errors import ConfigurationError
from calsync.domain import rules
from calsync.domain.contract import AppointmentChanged
from calsync.domain.ledger import LedgerEntry, LedgerState
from calsync.domain.model import Integration, IntegrationStatus
from calsync.domain.privacy import content_hash
from calsync.services import engine
from calsync.store import appointments, integrations, ledger

PAGE = 100


def all_integrations(tenant_id: str | None = None, status: IntegrationStatus | None = None) -> Iterator[Integration]:
    """Every integration (of one tenant; in one status), in no particular order."""
    after: str | None = None
    while True:
        found, after = integrations.scan_page(after, PAGE, tenant_id)
        yield from (i for i in found if status is None or i.status is status)
        if after is None:
            return


@dataclass(frozen=True)
class LedgerRow:
    integration_id: str
    provider: str
    appointment_key: str
    should: str
    """``event`` (with ``fields``), ``nothing`` (not on this calendar), or ``unknown`` (no snapshot)."""
    should_hash: str | None
    fields: tuple[str, ...]
    state: str | None
    """What the ledger records: ``synced``, ``removed``, ``retry``, ``parked``, ``dead``, or None (never)."""
    holds_hash: str | None
    external_id: str | None
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    verdict: str


def _verdict(integration: Integration | None, appointment: AppointmentChanged | None, entry: LedgerEntry | None,
             digest: str | None, now: dt.datetime) -> str:
    if integration is None:
        return "integration gone"
    if appointment is None:
        return "snapshot gone (expired)"
    if entry is not None and entry.leased:
        return "being synced now"
    if entry is not None and entry.state is LedgerState.RETRY:
        at = entry.next_attempt_at.isoformat(timespec="seconds") if entry.next_attempt_at else "?"
        return f"retrying: attempt {entry.attempts}, next at {at}"
    if entry is not None and entry.state in (LedgerState.PARKED, LedgerState.DEAD):
        return f"{entry.state.value}: {entry.last_error or '?'}"
    settled = entry is not None and rules.in_step(entry, digest or "")
    if not integration.accepts_pushes and integration.status is not IntegrationStatus.ERROR:
        return f"{integration.status.value}: not pushed" + ("" if settled else " (behind)")
    reason = rules.drift(integration, appointment, entry, now)
    return f"behind: {reason}" if reason else "in step"


def _row(integration: Integration | None, integration_id: str, key: str, appointment: AppointmentChanged | None,
         entry: LedgerEntry | None, now: dt.datetime) -> LedgerRow:
    event = rules.desired(integration, appointment, now) if integration and appointment else None
    digest = content_hash(event) if integration and appointment else None
    return LedgerRow(
        integration_id=integration_id, provider=integration.provider.value if integration else "?",
        appointment_key=key, should="unknown" if digest is None else "event" if event else "nothing",
        should_hash=digest, fields=tuple(sorted(event.disclosed)) if event else (),
        state=entry.state.value if entry and entry.state else None, holds_hash=entry.content_hash if entry else None,
        external_id=entry.external_id if entry else None, attempts=entry.attempts if entry else 0,
        next_attempt_at=entry.next_attempt_at if entry else None, last_error=entry.last_error if entry else None,
        verdict=_verdict(integration, appointment, entry, digest, now))


def integration_ledger(integration_id: str, limit: int = 200, now: dt.datetime | None = None) -> list[LedgerRow]:
    """The first ``limit`` items of an integration's ledger, each against its latest snapshot."""
    now = now or dt.datetime.now(dt.UTC)
    integration = integrations.get(integration_id)
    if integration is None:
        raise ConfigurationError(f"no such integration: {integration_id}")
    rows: list[LedgerRow] = []
    after: str | None = None
    while len(rows) < limit:
        entries, after = ledger.page(integration_id, after, min(PAGE, limit - len(rows)), (), now)
        snapshots = appointments.get_many(entry.appointment_key for entry in entries)
        for entry in entries:
            found = snapshots.get(entry.appointment_key)
            rows.append(_row(integration, integration_id, entry.appointment_key,
                             found.appointment if found else None, entry, now))
        if after is None:
            break
    return rows


def appointment_ledger(tenant_id: str, appointment_id: str, now: dt.datetime | None = None) -> list[LedgerRow]:
    """Every calendar that should show the appointment or holds (or held) it."""
    now = now or dt.datetime.now(dt.UTC)
    key = f"{tenant_id}#{appointment_id}"
    snapshot = appointments.get(tenant_id, appointment_id)
    found = appointments.get_many([key]).get(key)
    holders = set(found.holders if found else ())
    targets: dict[str, Integration | None] = {
        i.integration_id: i for i in (engine.targets(snapshot, holders) if snapshot else [])}
    for integration_id in holders - set(targets):
        targets[integration_id] = integrations.get(integration_id)
    if not targets and snapshot is None:
        raise ConfigurationError(f"no appointment {appointment_id} in tenant {tenant_id}")
    return [_row(integration, integration_id, key, snapshot, ledger.get(integration_id, key, now), now)
            for integration_id, integration in sorted(targets.items())]
