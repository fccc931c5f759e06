"""Who may speak for a tenant: a change is applied only when its sender is registered for its tenant.

The sender of an EventBridge event is its ``account`` (set by EventBridge: the account that called
PutEvents, never the caller's choice) and its ``source`` (the caller's choice, which the vendor limits
per principal with IAM's ``events:source`` condition). The tenant registry (``calsync.store.tenants``)
lists, per tenant, the (account, source) pairs allowed to speak for it; an event whose pair is not listed
for the ``tenant_id`` it names, or whose tenant is not registered, is refused before anything is stored:
the handler sends it to the dead-letter queue with the reason, and no calendar changes.

The registry is kept in memory for a minute (an unregistered tenant for five seconds, so a tenant
registered moments ago is not refused for long), so a warm worker reads it once a minute per tenant,
not once per change. Revoking a sender takes effect within that minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from calsync.core.errors import ContractError
from calsync.domain.contract import SOURCE_PREFIX
from calsync.store import tenants

KNOWN_SECONDS = 60.0
UNKNOWN_SECONDS = 5.0

_lock = threading.Lock()
_cache: dict[str, tuple[float, frozenset[tenants.Sender] | None]] = {}


class SenderNotAllowedError(ContractError):
    """The event's sender may not speak for the tenant it names (poison: never retried)."""


def check(envelope: Mapping[str, Any], tenant_id: str) -> None:
    """Raises :class:`SenderNotAllowedError` unless the envelope's (account, source) may speak for
    ``tenant_id``. The reason names the account, the source and the tenant, nothing of the appointment."""
    account, source = str(envelope.get("account", "")), str(envelope.get("source", ""))
    allowed = _senders(tenant_id)
    if allowed is None:
        raise SenderNotAllowedError(f"tenant {tenant_id} is not registered: no sender may speak for it")
    if (account, source) not in allowed:
        raise SenderNotAllowedError(f"source {source} in account {account} may not speak for tenant {tenant_id}")


def _senders(tenant_id: str) -> frozenset[tenants.Sender] | None:
    now = time.monotonic()
    with _lock:
        cached = _cache.get(tenant_id)
    if cached is not None and now < cached[0]:
        return cached[1]
    found = tenants.senders(tenant_id)
    with _lock:
        _cache[tenant_id] = (now + (KNOWN_SECONDS if found is not None else UNKNOWN_SECONDS), found)
    return found


def allow(tenant_id: str, account: str, source: str) -> None:
    """Registers a sender for the tenant (the tenant too, if new): onboarding, or a new producer."""
    if not (account.isdigit() and len(account) == 12) or not source.startswith(SOURCE_PREFIX):
        raise ValueError(f"a sender is a 12-digit account and a source starting with {SOURCE_PREFIX}")
    tenants.allow(tenant_id, (account, source))
    forget()


def revoke(tenant_id: str, account: str, source: str) -> None:
    """Removes a sender; workers stop accepting it within :data:`KNOWN_SECONDS`."""
    tenants.revoke(tenant_id, (account, source))
    forget()


def registered(tenant_id: str) -> frozenset[tenants.Sender] | None:
    """The tenant's senders as stored now (None: not registered)."""
    return tenants.senders(tenant_id)


def forget() -> None:
    """Drops the cached registry (tests; an operator's change that must apply at once in this process)."""
    with _lock:
        _cache.clear()
