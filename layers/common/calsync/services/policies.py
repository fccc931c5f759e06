"""Practice privacy policies as a use case: read (cached briefly, the engine's ``PolicySource``), change
(announced, and applied to everything already pushed), and explain one rendering.

A change is stored, recorded in the accounting of disclosures (so each patient's accounting shows which
policy governed what was disclosed, ``calsync.domain.disclosure.policy_changed``), announced on the bus as
``Privacy Policy Changed``, and every integration of the
tenant gets a resync: each event already pushed is rendered again under the new policy and rewritten
where it differs — tightening and loosening alike. The resync waits until every function's cached copy
of the old policy has expired (:data:`CACHE_SECONDS`), so no worker still renders with it, and then runs
in the next sweeper run. A policy with a detail horizon also gets a ``horizon`` task: as days pass, the
appointments that come inside the horizon get their details, and one with a retention of past visits gets
them rewritten busy-only on their day (``calsync.services.sweeper.horizon``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from calsync.aws import bus
from calsync.core.errors import CalSyncError
from calsync.core.observability import logger
from calsync.domain.disclosure import policy_changed
from calsync.domain.policy import FieldDecision, PrivacyPolicy, destination_kind, restrict
from calsync.services import recovery
from calsync.store import appointments, disclosures, integrations, policies, sweeps

DETAIL_TYPE = "Privacy Policy Changed"
CACHE_SECONDS = 30.0
HORIZON_PREFIX = "horizon#"
PAGE = 100

_lock = threading.Lock()
_cache: dict[str, tuple[float, PrivacyPolicy | None]] = {}


class PolicyConflictError(CalSyncError):
    """The policy changed since it was read: read it again and re-apply the change."""


class NotFoundError(CalSyncError):
    """No such integration or appointment in this tenant."""


def for_tenant(tenant_id: str) -> PrivacyPolicy | None:
    """The tenant's policy, from memory when read less than :data:`CACHE_SECONDS` ago."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(tenant_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    stored = policies.get(tenant_id)
    policy = stored.policy if stored is not None else None
    with _lock:
        _cache[tenant_id] = (now, policy)
    return policy


def forget(tenant_id: str | None = None) -> None:
    with _lock:
        if tenant_id is None:
            _cache.clear()
        else:
            _cache.pop(tenant_id, None)


def horizon_task(tenant_id: str) -> str:
    return f"{HORIZON_PREFIX}{tenant_id}"


def change(tenant_id: str, policy: PrivacyPolicy, expected_version: int | None,
           now: dt.datetime | None = None) -> int:
    """Stores the tenant's new policy (if nobody changed it since ``expected_version`` was read), announces
    it, and schedules every integration's resync. Returns the new version."""
    now = now or dt.datetime.now(dt.UTC)
    version = policies.put(tenant_id, policy, expected_version, now)
    if version is None:
        raise PolicyConflictError(f"the policy of {tenant_id} changed meanwhile")
    forget(tenant_id)
    disclosures.record(policy_changed(tenant_id, version, policy.rules_in_force(), now))
    applied_from = now + dt.timedelta(seconds=2 * CACHE_SECONDS)  # every cached copy of the old one is gone
    after: str | None = None
    scheduled = 0
    while True:
        ids, after = integrations.of_tenant(tenant_id, after, PAGE)
        for integration_id in ids:
            recovery.schedule_resync(integration_id, applied_from)
            scheduled += 1
        if after is None:
            break
    if policy.detail_days is not None or policy.past_busy_after_days is not None:
        sweeps.schedule(horizon_task(tenant_id), applied_from)
    else:
        sweeps.cancel(horizon_task(tenant_id))
    bus.publish(DETAIL_TYPE, {"tenant_id": tenant_id, "version": version, "changed_at": now.isoformat(),
                              "applies_from": applied_from.isoformat(), "integrations": scheduled})
    logger.info("privacy policy changed", extra={"tenant_id": tenant_id, "version": version,
                                                  "integrations": scheduled})
    return version


@dataclass(frozen=True)
class Explanation:
    """Why one appointment looks as it does on one integration's calendar."""

    integration_id: str
    appointment_id: str
    destination: str
    busy_only: bool
    policy_version: int | None
    fields: tuple[FieldDecision, ...]


def explain(tenant_id: str, integration_id: str, appointment_id: str,
            now: dt.datetime | None = None) -> Explanation:
    """Which setting or policy rule shows or removes each field of this appointment on this calendar."""
    integration = integrations.get(integration_id)
    appointment = appointments.get(tenant_id, appointment_id)
    if integration is None or integration.tenant_id != tenant_id or appointment is None:
        raise NotFoundError(f"no integration {integration_id} or appointment {appointment_id} in {tenant_id}")
    stored = policies.get(tenant_id)
    policy = stored.policy if stored is not None else None
    destination = destination_kind(integration, policy or PrivacyPolicy())
    restricted = restrict(integration.privacy, policy, appointment, destination, now or dt.datetime.now(dt.UTC))
    return Explanation(integration_id, appointment_id, destination.value, restricted.busy_only,
                       stored.version if stored else None, restricted.decisions)
