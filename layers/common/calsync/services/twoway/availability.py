"""When is a clinician busy between two moments, across all their integrations: the EHR's booking page asks
(``GET /tenants/{tenant_id}/practitioners/{practitioner_id}/busy``), and gets merged intervals from the
stored busy blocks — one DynamoDB query, no provider call.

Overlapping and touching blocks merge into one interval; its status is the strongest among them
(busy, then out of office, then tentative). Only start, end and status leave: blocks' titles, attendees
and references stay out of this answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from calsync.domain.busy import BusyStatus
from calsync.store import busy

LONGEST_RANGE = dt.timedelta(days=62)
"""The widest range one request may ask about."""
STRENGTH = {BusyStatus.BUSY: 3, BusyStatus.OUT_OF_OFFICE: 2, BusyStatus.TENTATIVE: 1}


class RangeError(ValueError):
    """The requested range is empty, inverted or too wide."""


@dataclass(frozen=True)
class Interval:
    start: dt.datetime
    end: dt.datetime
    status: BusyStatus

    def as_dict(self) -> dict[str, str]:
        return {"start": _iso(self.start), "end": _iso(self.end), "status": self.status.value}


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def busy_between(tenant_id: str, practitioner_id: str, start: dt.datetime, end: dt.datetime) -> list[Interval]:
    """The clinician's busy intervals overlapping [start, end), merged, by start."""
    if end <= start or end - start > LONGEST_RANGE:
        raise RangeError(f"the range must be positive and at most {LONGEST_RANGE.days} days")
    blocks = sorted(busy.for_owner(busy.owner_key(tenant_id, practitioner_id), start, end),
                    key=lambda block: block.start)
    merged: list[Interval] = []
    for block in blocks:
        if merged and block.start <= merged[-1].end:
            last = merged[-1]
            strongest = max(last.status, block.status, key=STRENGTH.__getitem__)
            merged[-1] = Interval(last.start, max(last.end, block.end), strongest)
        else:
            merged.append(Interval(block.start, block.end, block.status))
    return merged
