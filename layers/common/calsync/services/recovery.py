"""How an integration's health moves as its syncs succeed and fail, in one place (the engine's
``IntegrationHealth``: this module is what the deployed engine is given).

A ``pending`` integration whose first write succeeds is ``active`` (:func:`activated`).

Entering ``error`` (revoked credentials, a calendar that is gone, writes refused again and again)
parks the work and schedules a *recovery probe*: the sweeper later retries one parked item, backing off
(15 min, 1 h, 6 h, then every 6 h). When a probe's write succeeds the cause has cleared by itself, the
integration is ``active`` again and its parked and dead work is replayed. A reconnect
(``calsync.services.lifecycle.reconnect``) does the same at once. Nothing here talks to a provider.
"""

from __future__ import annotations

import datetime as dt

from calsync.domain.model import Integration, IntegrationStatus
from calsync.services import status
from calsync.store import sweeps

PROBE_DELAYS = (dt.timedelta(minutes=15), dt.timedelta(hours=1), dt.timedelta(hours=6))
REPLAY_PREFIX = "replay#"
RESYNC_PREFIX = "resync#"
PROBE_PREFIX = "recover#"


def probe_delay(probes_so_far: int) -> dt.timedelta:
    return PROBE_DELAYS[min(probes_so_far, len(PROBE_DELAYS) - 1)]


def replay_task(integration_id: str) -> str:
    return f"{REPLAY_PREFIX}{integration_id}"


def resync_task(integration_id: str) -> str:
    return f"{RESYNC_PREFIX}{integration_id}"


def probe_task(integration_id: str) -> str:
    return f"{PROBE_PREFIX}{integration_id}"


def activated(integration: Integration) -> bool:
    """The first write of a ``pending`` integration succeeded: it is ``active`` (announced). False if it
    was not ``pending``."""
    return status.change(integration, IntegrationStatus.ACTIVE, None, expected=IntegrationStatus.PENDING)


def entered_error(integration: Integration, reason: str, now: dt.datetime) -> bool:
    """Moves the integration to ``error`` (announced) and schedules its first recovery probe.
    False when it was already there for this reason."""
    if not status.change(integration, IntegrationStatus.ERROR, reason):
        return False
    sweeps.schedule_if_absent(probe_task(integration.integration_id), now + probe_delay(0))
    return True


def schedule_replay(integration_id: str, now: dt.datetime) -> None:
    """Parked and dead work of this integration is replayed by the next sweeper run (from the start)."""
    sweeps.schedule(replay_task(integration_id), now)


def schedule_resync(integration_id: str, now: dt.datetime) -> None:
    """Every appointment in the integration's window is compared with its calendar and repaired."""
    sweeps.schedule(resync_task(integration_id), now)


def recovered(integration: Integration, now: dt.datetime) -> bool:
    """The cause of an ``error`` cleared (a probe or a reconnect wrote successfully): back to ``active``,
    announced, probes stopped, parked and dead work replayed. False if it was not in ``error``."""
    if not status.change(integration, IntegrationStatus.ACTIVE, None, expected=IntegrationStatus.ERROR):
        return False
    sweeps.cancel(probe_task(integration.integration_id))
    schedule_replay(integration.integration_id, now)
    return True
