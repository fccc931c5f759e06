"""The mass-removal guard: a pull that would remove many of a calendar's known busy blocks at once is held.

A calendar that suddenly reads empty is far more often an outage, a lost grant, a half-answered request or
a calendar swapped for another than a clinician clearing their diary; applying it would free every slot in
the EHR at once and let patients book over real commitments. So a pull that would remove

* anything, when a complete read of the calendar came back empty while blocks are known, or
* at least :data:`MIN_REMOVALS` blocks and more than :data:`MAX_SHARE` of those known,

is *held*: its removals are not applied (additions and changes are), the calendar's sync position does not
move, an alarm goes off, and the removals wait until a later pull, at least :data:`CONFIRM_AFTER` later,
proposes them again (all of them, perhaps more) — or an operator confirms them. A pull that no longer
proposes them lifts the hold. Pure rules; ``calsync.services.twoway`` applies them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

MIN_REMOVALS = 3
MAX_SHARE = 0.5
CONFIRM_AFTER = dt.timedelta(minutes=10)


class Verdict(StrEnum):
    APPLY = "apply"        # nothing suspicious, or a held removal confirmed
    HOLD = "hold"          # suspicious: keep the blocks, wait for confirmation


@dataclass(frozen=True)
class Hold:
    """Removals proposed and held for one calendar: which blocks, since when, and whether an operator
    confirmed them."""

    removals: frozenset[str]
    since: dt.datetime
    confirmed: bool = False


def suspicious(known: int, removing: int, empty_read: bool) -> bool:
    """Whether removing ``removing`` of ``known`` blocks at once needs a second look."""
    if removing == 0:
        return False
    if empty_read and known > 0:
        return True
    return removing >= MIN_REMOVALS and removing > known * MAX_SHARE


def judge(known: int, removals: frozenset[str], empty_read: bool, hold: Hold | None,
          now: dt.datetime) -> tuple[Verdict, Hold | None]:
    """What to do with a pull's ``removals``, given the calendar's current ``hold``: the verdict and the
    hold to keep (None: no hold any more)."""
    if hold is not None and hold.removals <= removals and (hold.confirmed or now - hold.since >= CONFIRM_AFTER):
        return Verdict.APPLY, None  # proposed again after a while (or confirmed by an operator): real
    if not suspicious(known, len(removals), empty_read):
        return Verdict.APPLY, None
    if hold is not None and hold.removals <= removals:
        return Verdict.HOLD, hold  # still proposed, not long enough yet
    return Verdict.HOLD, Hold(removals, now)
