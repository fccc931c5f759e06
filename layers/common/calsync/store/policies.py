"""Practice privacy policies, one per tenant, beside its integrations (``tables.PolicyItem``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pynamodb.exceptions import PutError

from calsync.domain.policy import PrivacyPolicy
from calsync.store import _time
from calsync.store._errors import condition_failed, translated
from calsync.store.tables import PolicyItem

PREFIX = "~policy#"


@dataclass(frozen=True)
class StoredPolicy:
    policy: PrivacyPolicy
    version: int
    updated_at: dt.datetime


def _key(tenant_id: str) -> str:
    return f"{PREFIX}{tenant_id}"


def get(tenant_id: str) -> StoredPolicy | None:
    """The tenant's policy (strongly consistent), or None when it has none."""
    with translated("GetItem"):
        try:
            item = PolicyItem.get(_key(tenant_id), consistent_read=True)
        except PolicyItem.DoesNotExist:
            return None
    updated = _time.moment(item.updated_at)
    return StoredPolicy(PrivacyPolicy.model_validate_json(item.policy), int(item.version), updated)


def put(tenant_id: str, policy: PrivacyPolicy, expected_version: int | None, now: dt.datetime) -> int | None:
    """Stores ``policy`` if the stored one is still ``expected_version`` (None: there is none yet); returns
    the new version, or None when someone else changed it first."""
    version = (expected_version or 0) + 1
    item = PolicyItem(_key(tenant_id), policy=policy.model_dump_json(), version=version, updated_at=_time.epoch(now))
    condition = (PolicyItem.integration_id.does_not_exist() if expected_version is None
                 else PolicyItem.version == expected_version)
    try:
        with translated("PutItem"):
            item.save(condition=condition)
    except PutError as error:
        if condition_failed(error):
            return None
        raise
    return version
