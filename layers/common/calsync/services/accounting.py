"""The accounting of disclosures for one patient over a period (``calsync audit export``): every write of
their appointments' content to a calendar outside calsync, with when, where, which fields and the outcome."""

from __future__ import annotations

import datetime as dt

from calsync.domain.disclosure import Disclosure
from calsync.store import disclosures


def accounting(tenant_id: str, client_id: str, start: dt.datetime, end: dt.datetime) -> list[Disclosure]:
    """The patient's disclosures from ``start`` up to (not including) ``end``, oldest first."""
    if end <= start:
        raise ValueError("the period ends before it starts")
    return list(disclosures.for_patient(tenant_id, client_id, start, end))
