"""What a clinician (or an operator) does to an integration, and what each step sets in motion.

    connect      stored as ``pending``; the first sync of the window runs in the sweeper, then ``active``
    pause        ``paused``: nothing is pushed (a retry that falls due is parked)
    resume       ``active``; parked work is replayed; ``backfill=True`` also brings every appointment in
                 the window up to date (peers do not offer it: changes made while paused stay missing)
    disconnect   ``disconnected``: nothing is pushed, pending sweeper work is dropped, and every hook
                 registered with :func:`register_on_disconnect` runs (watch channels, subscriptions), while
                 the credentials still work; revoking them is ``calsync.services.connect.disconnect``'s step
    reconnect    new credentials; ``active``; parked and dead work is replayed at once (bounded; the
                 sweeper finishes the rest), and after a disconnect the window is brought up to date
    update       new settings (privacy, window, filters); every event already pushed is rewritten to
                 match them (retroactive re-redaction), in the sweeper
    replay       an operator's command: parked and dead work is replayed once more

Every status transition goes through ``calsync.services.status`` and is announced as ``Integration Status
Changed``; automatic recovery from ``error`` is ``calsync.services.recovery``'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from calsync.aws import secret_store as secrets
from calsync.core.errors import ConfigurationError
from calsync.core.observability import logger
from calsync.domain import secret_names
from calsync.domain.model import Integration, IntegrationStatus
from calsync.oauth import token_secret as oauth_secret
from calsync.services import recovery, status, sweeper, writers
from calsync.store import integrations, sweeps

RECONNECT_REPLAY_SYNCS = 50
"""Parked items a reconnect replays before it returns; the sweeper does the rest within a minute."""

DisconnectHook = Callable[[Integration], None]
"""Stops what an integration keeps at its provider (a watch channel, a subscription). Called while its
credentials still work; a hook that fails is logged and does not stop the disconnect."""
_on_disconnect: list[DisconnectHook] = []


def register_on_disconnect(hook: DisconnectHook) -> None:
    """Adds a hook :func:`disconnect` calls for every integration it disconnects (idempotent)."""
    if hook not in _on_disconnect:
        _on_disconnect.append(hook)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def _load(integration_id: str) -> Integration:
    integration = integrations.get(integration_id)
    if integration is None:
        raise ConfigurationError(f"no such integration: {integration_id}")
    return integration


def _check_secrets(integration: Integration) -> None:
    """Refuses a record whose secret references are not its own tenant's (``calsync.domain.secret_names``);
    the same check guards every Secrets Manager call, this one only reports it where the record comes in."""
    for ref in (integration.secret_ref, integration.options.get(oauth_secret.APP_SECRET_OPTION)):
        if ref:
            try:
                secret_names.owner_segment(integration.tenant_id, ref)
            except secret_names.SecretOutsideTenant as error:
                raise ConfigurationError(f"integration {integration.integration_id}: {error}") from None


def connect(integration: Integration, now: dt.datetime | None = None) -> None:
    """Stores a new integration as ``pending`` and schedules its first sync (the whole window)."""
    _check_secrets(integration)
    integrations.put(integration.model_copy(update={"status": IntegrationStatus.PENDING, "status_reason": None}))
    recovery.schedule_resync(integration.integration_id, _now(now))


def pause(integration_id: str) -> bool:
    """Stops pushes. False if it was paused already (or is disconnected)."""
    integration = _load(integration_id)
    if integration.status is IntegrationStatus.DISCONNECTED:
        return False
    return status.change(integration, IntegrationStatus.PAUSED, None)


def resume(integration_id: str, backfill: bool, now: dt.datetime | None = None) -> bool:
    """Pushes again; parked work is replayed, and with ``backfill`` the whole window is brought up to
    date. False if it was not paused."""
    now = _now(now)
    integration = _load(integration_id)
    if not status.change(integration, IntegrationStatus.ACTIVE, None, expected=IntegrationStatus.PAUSED):
        return False
    recovery.schedule_replay(integration_id, now)
    if backfill:
        recovery.schedule_resync(integration_id, now)
    return True


def disconnect(integration_id: str) -> bool:
    """Stops everything for this integration and runs the disconnect hooks. Revoking the provider's grant
    is the provider's own step."""
    integration = _load(integration_id)
    changed = status.change(integration, IntegrationStatus.DISCONNECTED, None)
    for task in (recovery.probe_task, recovery.replay_task, recovery.resync_task):
        sweeps.cancel(task(integration_id))
    for hook in list(_on_disconnect):
        try:
            hook(integration)
        except Exception as error:  # one provider's trouble must not keep the integration half connected
            logger.warning("disconnect hook failed", extra={"integration_id": integration_id,
                                                            "error": type(error).__name__})
    writers.forget(integration_id)
    if integration.secret_ref:
        secrets.forget(integration.secret_ref)
    return changed


def reconnect(integration_id: str, secret: dict[str, Any] | None = None,
              now: dt.datetime | None = None) -> sweeper.SweepReport:
    """Stores new credentials (when given), makes the integration ``active`` and replays its parked and
    dead work at once, as far as :data:`RECONNECT_REPLAY_SYNCS`; the sweeper resumes the rest."""
    now = _now(now)
    integration = _load(integration_id)
    if secret is not None:
        if not integration.secret_ref:
            raise ConfigurationError(f"integration {integration_id} has no secret reference")
        # the same compare-and-swap path token refreshes use, so a refresh still in flight from the old
        # consent cannot overwrite the new one (and cached access tokens of the old consent are dropped)
        oauth_secret.replace(integration.tenant_id, integration.secret_ref, secret)
    writers.forget(integration_id)  # warm provider instances hold the old credentials
    previous = integration.status
    if previous is IntegrationStatus.ERROR:
        recovery.recovered(integration, now)
    else:
        status.change(integration, IntegrationStatus.ACTIVE, None)
        recovery.schedule_replay(integration_id, now)
        if previous is IntegrationStatus.DISCONNECTED:
            recovery.schedule_resync(integration_id, now)
    return sweeper.replay_now(integration_id, now, sweeper.Budget(syncs=RECONNECT_REPLAY_SYNCS))


def update(integration: Integration, now: dt.datetime | None = None) -> None:
    """Stores new settings (keeping the stored status) and, when what a calendar shows may change,
    schedules the rewrite of everything already pushed."""
    _check_secrets(integration)
    stored = _load(integration.integration_id)
    runtime = {"status": stored.status, "status_reason": stored.status_reason,
               "last_synced_at": stored.last_synced_at, "last_error": stored.last_error}
    updated = integration.model_copy(update=runtime)
    integrations.put(updated)
    writers.forget(integration.integration_id)
    shown = ("privacy", "window", "practice_filter", "practice_scope", "location_filter", "calendar_id")
    if any(getattr(stored, name) != getattr(updated, name) for name in shown):
        recovery.schedule_resync(integration.integration_id, _now(now))


def replay(integration_id: str, now: dt.datetime | None = None) -> None:
    """An operator's command: replay this integration's parked and dead work (the next sweeper run)."""
    _load(integration_id)
    recovery.schedule_replay(integration_id, _now(now))
