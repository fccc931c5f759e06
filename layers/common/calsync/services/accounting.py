"""The accounting of disclosures for one patient over a period (``calsync audit export``): every write of
their appointments' content to a calendar outside calsync, with when, where, which fields and the outcome,
and among them the practice's privacy policy changes of the period (which rules governed the writes)."""

from __future__ import annotations

import datetime as dt

from calsync.domain.disclosure import PRACTICE, Disclosure
from calsync.store import disclosures


def accounting(tenant_id: str, client_id: str, start: dt.datetime, end: dt.datetime) -> list[Disclosure]:
    """The patient's disclosures from ``start`` up to (not including) ``end``, with the practice's policy
    changes of the period, oldest first."""
    if end <= start:
        raise ValueError("the period ends before it starts")
    records = list(disclosures.for_patient(tenant_id, client_id, start, end))
    if client_id != PRACTICE:
        records.extend(disclosures.for_patient(tenant_id, PRACTICE, start, end))
    return sorted(records, key=lambda record: record.at)
