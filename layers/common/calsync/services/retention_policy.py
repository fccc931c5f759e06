"""A tenant's retention policy for what was pushed: past visits shown only as "Busy" N days after they end.

The policy lives where rendering reads it, in each integration's privacy settings
(``PrivacySettings.past_busy_after_days``), so the engine, the gap sweep and the sweeper's retention job all
render the same thing. Setting it for a tenant updates every integration of that tenant through
``lifecycle.update``, which schedules the rewrite of every event already pushed: past visits become busy-only
at once, later ones on their day (``services/sweeper/retention.py``). Idempotent: run it again to finish.
"""

from __future__ import annotations

from collections.abc import Callable

from calsync.domain.model import Integration
from calsync.services import inspection, lifecycle


def apply(tenant_id: str, days: int | None, on_each: Callable[[Integration, bool], None] | None = None) -> int:
    """Sets (``days``) or clears (None) the policy on every integration of ``tenant_id``; returns how many
    integrations changed."""
    changed = 0
    for integration in list(inspection.all_integrations(tenant_id)):
        differs = integration.privacy.past_busy_after_days != days
        if differs:
            privacy = integration.privacy.model_copy(update={"past_busy_after_days": days})
            lifecycle.update(integration.model_copy(update={"privacy": privacy}))
            changed += 1
        if on_each is not None:
            on_each(integration, differs)
    return changed
