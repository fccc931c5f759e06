"""A tenant's retention policy for what was pushed: past visits shown only as "Busy" N days after they end.

It is one rule of the practice's privacy policy (``PrivacyPolicy.past_busy_after_days``,
``calsync.domain.policy``), so the engine, the gap sweep and every resync render the same thing. Setting it
is a policy change (``calsync.services.policies.change``): announced, every integration of the tenant
resynced (past visits become busy-only at once), and later visits rewritten on their day by the sweeper's
policy-boundaries job (``services/sweeper/horizon.py``).
"""

from __future__ import annotations

from calsync.domain.policy import PrivacyPolicy
from calsync.services import policies
from calsync.store import policies as stored_policies


def apply(tenant_id: str, days: int | None) -> int:
    """Sets (``days``) or clears (None) the tenant's retention of past visits; returns the policy's new
    version (the same one when nothing changed)."""
    stored = stored_policies.get(tenant_id)
    current = stored.policy if stored is not None else PrivacyPolicy()
    if current.past_busy_after_days == days and stored is not None:
        return stored.version
    updated = PrivacyPolicy.model_validate({**current.model_dump(), "past_busy_after_days": days})
    return policies.change(tenant_id, updated, stored.version if stored is not None else None)
