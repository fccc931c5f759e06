"""What an operator does about reading calendars back (``python -m calsync.cli.twoway``).

    status     an integration's pull state, channels and held removals
    confirm    the removals the guard held are real (a calendar really was cleared): the next pull applies them
    pull       read the integration's calendars now
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from calsync.services.twoway.requests import request_pull
from calsync.store import pulls, watches


def status(integration_id: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """The pull state, channels and held removals of one integration (identifiers and counts only)."""
    now = now or dt.datetime.now(dt.UTC)
    state = pulls.state(integration_id)
    return {
        "integration_id": integration_id,
        "next_pull_at": state.next_pull_at.isoformat() if state and state.next_pull_at else None,
        "last_pulled_at": state.last_pulled_at.isoformat() if state and state.last_pulled_at else None,
        "channels": [{"watch_id": w.watch_id, "ends_at": w.ends_at.isoformat(), "live": w.live(now)}
                     for w in watches.of_integration(integration_id)],
        "calendars": [{"blocks": cursor.blocks, "incremental": cursor.cursor is not None,
                       "held_removals": len(cursor.hold.removals) if cursor.hold else 0,
                       "held_since": cursor.hold.since.isoformat() if cursor.hold else None}
                      for cursor in pulls.cursors(integration_id).values()],
    }


def confirm(integration_id: str, now: dt.datetime | None = None) -> int:
    """Confirms every held removal of the integration and asks for the pull that applies them; returns how
    many calendars had one."""
    confirmed = pulls.confirm_holds(integration_id)
    if confirmed:
        request_pull(integration_id, "operator_confirmed", now)
    return confirmed


def pull_now(integration_id: str, now: dt.datetime | None = None, *, full: bool = False) -> None:
    request_pull(integration_id, "operator", now, full=full)
