"""What calsync knows each external calendar holds: one ledger entry per (integration, appointment)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class LedgerState(StrEnum):
    SYNCED = "synced"      # the provider holds the rendered event we recorded
    REMOVED = "removed"    # the provider holds nothing for this appointment (deleted, cancelled, never made)
    RETRY = "retry"        # a transient failure; next_attempt_at says when
    PARKED = "parked"      # waiting for the integration (re-auth, resume); replayed when it recovers
    DEAD = "dead"          # gave up after the retry budget, or the provider refused it for good


@dataclass
class LedgerEntry:
    """What calsync knows the external calendar holds for one (integration, appointment)."""

    integration_id: str
    appointment_key: str
    external_id: str | None = None
    etag: str | None = None
    synced_order_key: str | None = None
    content_hash: str | None = None
    state: LedgerState | None = None
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    last_error: str | None = None
    uncertain: bool = False  # an attempt was cut off after it may have written: the calendar may differ
    leased: bool = False  # another invocation holds an unexpired lease (as read; never written back)
