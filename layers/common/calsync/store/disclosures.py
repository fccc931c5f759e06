"""The accounting of disclosures in DynamoDB: append a record, read one patient's records for a period.

Records are keyed by ``tenant#client`` and by time, so a patient's accounting is one Query; the sort key
ends in a random nonce and is written only if it does not exist, so a record is never overwritten. Each
record expires after the retention in the settings (default six years), by DynamoDB's TTL.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator

from calsync.core.observability import Metric, count
from calsync.core.settings import get_settings
from calsync.domain.disclosure import Disclosure
from calsync.store._errors import translated
from calsync.store.tables import DisclosureItem


def patient_key(tenant_id: str, client_id: str) -> str:
    return f"{tenant_id}#{client_id}"


def _moment(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(disclosure: Disclosure) -> None:
    """Appends one record (a PutItem that may not overwrite anything)."""
    sort_key = "#".join((_moment(disclosure.at), disclosure.integration_id, disclosure.appointment_id,
                         secrets.token_hex(4)))
    item = DisclosureItem(patient_key(disclosure.tenant_id, disclosure.client_id), sort_key,
                          tenant_id=disclosure.tenant_id, client_id=disclosure.client_id,
                          appointment_id=disclosure.appointment_id, integration_id=disclosure.integration_id,
                          destination=disclosure.destination, fields=set(disclosure.fields),
                          outcome=disclosure.outcome,
                          expires_at=disclosure.at + dt.timedelta(days=get_settings().disclosure_retention_days))
    with translated("PutItem"):
        item.save(condition=DisclosureItem.sk.does_not_exist())
    count(Metric.DISCLOSURE_RECORDED)


def for_patient(tenant_id: str, client_id: str, start: dt.datetime, end: dt.datetime) -> Iterator[Disclosure]:
    """The patient's records from ``start`` (inclusive) to ``end`` (exclusive), oldest first."""
    condition = DisclosureItem.sk.between(_moment(start), _moment(end - dt.timedelta(milliseconds=1)) + "~")
    with translated("Query"):
        for item in DisclosureItem.query(patient_key(tenant_id, client_id), range_key_condition=condition,
                                         consistent_read=True):
            moment, _, _ = item.sk.partition("#")
            yield Disclosure(at=dt.datetime.fromisoformat(moment), tenant_id=item.tenant_id,
                             client_id=item.client_id, appointment_id=item.appointment_id,
                             integration_id=item.integration_id, destination=item.destination,
                             fields=tuple(sorted(item.fields)), outcome=item.outcome)
